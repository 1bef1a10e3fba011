"""Fast path of ``split_lines``: well-formed lines go through polars' multi-threaded CSV reader.

Profiling the ingest of 1M Criteo rows (docs/DATASETS.md) showed splitting every line into a list
column and picking fields from it cost a quarter of the stage. Here one numpy pass over the raw
bytes of a chunk counts the separators of each line; lines with the right field count go to
``pl.read_csv`` as one buffer, the few others (empty, wrong field count) to the general
:func:`reaction.data.formats.rows.split_lines`, which names their problem. A chunk that the CSV
reader would treat differently from that general path (invalid UTF-8, a ``\\r``, a quote
character in a quoted format) returns ``None`` and is split by the general path as a whole, so
the rows and bad-row reports are exactly the general path's.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reaction.data.formats.bad_rows import BAD_SCHEMA
from reaction.data.formats.lines import LINE, lines_frame
from reaction.data.formats.rows import split_lines
from reaction.data.formats.table import TableFormat

_NEWLINE = ord("\n")


def split_clean(
    block: memoryview, first_line: int, fmt: TableFormat, names: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """Like ``split_lines(lines_frame(block, first_line), fmt, names)``, or None (see above)."""
    raw = bytes(block)
    if b"\r" in raw or (fmt.quote is not None and fmt.quote.encode() in raw):
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    data = np.frombuffer(raw, dtype=np.uint8)
    starts, ends = _line_bounds(data)
    seps = np.flatnonzero(data == ord(fmt.separator))
    fields = np.bincount(np.searchsorted(ends, seps), minlength=len(ends)) + 1
    ok = (fields == len(names)) & (ends > starts)
    good = _read_fields(raw, data, starts, ok, fmt, names)
    lines = pl.Series(LINE, first_line + np.flatnonzero(ok), dtype=pl.UInt64)
    good = good.insert_column(0, lines)
    bad_lines = np.flatnonzero(~ok)
    if not len(bad_lines):
        return good, pl.DataFrame(schema=BAD_SCHEMA)
    bad_bytes = np.repeat(~ok, np.diff(np.append(starts, len(data))))
    rest = lines_frame(memoryview(data[bad_bytes].tobytes()), 1)
    rest = rest.with_columns(pl.Series(LINE, first_line + bad_lines, dtype=pl.UInt64))
    _, bad = split_lines(rest, fmt, names)
    return good, bad


def _line_bounds(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, before the newline) byte offsets of every line."""
    ends = np.flatnonzero(data == _NEWLINE)
    if not len(ends) or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))  # last line without newline
    starts = np.concatenate(([0], ends[:-1] + 1))
    return starts, ends


def _read_fields(
    raw: bytes,
    data: np.ndarray,
    starts: np.ndarray,
    ok: np.ndarray,
    fmt: TableFormat,
    names: tuple[str, ...],
) -> pl.DataFrame:
    """The ``ok`` lines as one String column per column the format reads ("" stays "")."""
    index = {name: i for i, name in enumerate(names)}
    wanted = [index[c] for c in fmt.required_columns]
    if not ok.any():
        return pl.DataFrame(schema=dict.fromkeys(fmt.required_columns, pl.String))
    if not ok.all():
        raw = data[np.repeat(ok, np.diff(np.append(starts, len(data))))].tobytes()
    frame = pl.read_csv(
        raw,
        has_header=False,
        separator=fmt.separator,
        quote_char=None,
        schema={f"_{i}": pl.String for i in range(len(names))},
        empty_string_is_null=False,
        raise_if_empty=False,
    )
    picked = zip(fmt.required_columns, wanted, strict=True)
    return frame.select(pl.col(f"_{i}").alias(c) for c, i in picked)
