"""Fast path of ``split_lines`` for a block in which every line is well-formed.

Splitting each line into a list column and picking the fields back out of it (``split_lines``)
is the costliest part of the ingest after the parse itself; polars' CSV reader does the same
work in one pass over the raw bytes. It is used only where its result is provably the general
path's: the block is valid UTF-8 (the reader raises otherwise), holds no ``\\r`` (the reader
drops it, the general path keeps it inside a field), no quote character of a quoted format, and
every line has exactly the expected number of fields -- the reader raises on a line with too
many, and with none too long, a separator total of ``lines * (fields - 1)`` leaves no line too
short (nor empty). Any other block returns ``None`` and goes through the general path as
a whole, which names each bad line's problem; so rows and bad-row reports do not depend on which
path a block took.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reaction.data.formats.lines import LINE
from reaction.data.formats.table import TableFormat


def read_clean(
    block: memoryview, first_line: int, lines: int, fmt: TableFormat, names: tuple[str, ...]
) -> pl.DataFrame | None:
    """``line`` + one String column per column ``fmt`` reads (empty field -> null), or None.

    ``names`` are the file's columns in order; the block holds ``lines`` lines from
    ``first_line`` on.
    """
    raw = bytes(block)
    if not _plain(raw, fmt, lines, len(names)):
        return None
    positional = [f"_{i}" for i in range(len(names))]
    try:
        frame = pl.read_csv(
            raw,
            has_header=False,
            separator=fmt.separator,
            quote_char=None,
            schema=dict.fromkeys(positional, pl.String),
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:  # invalid UTF-8, a line with too many fields, ...
        return None
    if frame.height != lines:
        return None
    index = {name: i for i, name in enumerate(names)}
    line = pl.int_range(first_line, first_line + lines, dtype=pl.UInt64, eager=True)
    return frame.select(
        line.alias(LINE), *(pl.col(positional[index[c]]).alias(c) for c in fmt.required_columns)
    )


def _plain(raw: bytes, fmt: TableFormat, lines: int, fields: int) -> bool:
    """No byte the reader treats differently and the separator total of clean lines (an empty
    line has too few separators, so it fails this count too: no line can have too many)."""
    separator = fmt.separator.encode()
    if not raw or b"\r" in raw or len(separator) != 1:  # the reader takes a one-byte separator
        return False
    if fmt.quote is not None and fmt.quote.encode() in raw:
        return False
    data = np.frombuffer(raw, dtype=np.uint8)  # numpy counts bytes faster than bytes.count
    return int(np.count_nonzero(data == separator[0])) == lines * (fields - 1)
