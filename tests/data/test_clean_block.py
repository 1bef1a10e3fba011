"""The CSV-reader fast path gives exactly the general split's rows, or declines the block."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reaction.data.formats.clean_block import read_clean
from reaction.data.formats.lines import lines_frame
from reaction.data.formats.rows import split_lines
from reaction.data.formats.table import Label, TableFormat

FMT = TableFormat(
    "tsv",
    labels=(Label("y", "y"),),
    numeric=("x",),
    categorical=("s",),
    separator="\t",
    header=False,
    columns=("y", "x", "s", "unused"),
)
NAMES = FMT.columns
field = st.sampled_from(["", "0", "1", "-2.5", "ab", "é", "nan", '"q', " x "])
line = st.one_of(
    st.lists(field, min_size=4, max_size=4).map("\t".join),  # well-formed
    st.lists(field, min_size=0, max_size=6).map("\t".join),  # any field count, empty lines
    st.sampled_from(["1\t2\r\tz\tw", "0\t1\tz\tw\r"]),  # a carriage return inside or at the end
)


def _general(block: bytes, first_line: int) -> pl.DataFrame:
    good, bad = split_lines(lines_frame(memoryview(block), first_line), FMT, NAMES)
    assert bad.is_empty()
    return good.with_columns(pl.col(c).replace("", None) for c in FMT.required_columns)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(line, min_size=1, max_size=12), final=st.booleans(), first=st.integers(1, 9))
def test_fast_path_equals_general_path_or_declines(
    lines: list[str], final: bool, first: int
) -> None:
    block = ("\n".join(lines) + ("\n" if final else "")).encode()
    fast = read_clean(memoryview(block), first, len(lines), FMT, NAMES)
    clean = all(len(x.split("\t")) == 4 and x and "\r" not in x for x in lines)
    if not clean:
        assert fast is None
        return
    assert fast is not None
    assert fast.equals(_general(block, first))


def test_one_line_too_long_and_one_too_short_do_not_cancel() -> None:
    block = b"1\t2\ta\tb\tEXTRA\n0\t1\ta\n"  # 4 separators + 2: the total of two clean lines
    assert read_clean(memoryview(block), 1, 2, FMT, NAMES) is None


def test_invalid_utf8_declines() -> None:
    assert read_clean(memoryview(b"1\t2\t\xff\tb\n"), 1, 1, FMT, NAMES) is None
