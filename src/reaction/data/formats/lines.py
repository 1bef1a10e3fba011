"""A text file as blocks of physical lines: bounded memory, exact line numbers, bad UTF-8 kept.

``iter_blocks`` yields the raw bytes of whole lines with their line numbers (what the CSV-reader
fast path parses); ``lines_frame`` turns a block into a ``DataFrame(line: UInt64, text: String)``
for the general path: ``line`` is the 1-based physical line number and ``text`` the line without
its ``\\n`` (and a ``\\r`` before it), or null when the line is not valid UTF-8. Lines are never
stripped otherwise: Criteo rows end in TABs when their last fields are empty. A file without a
final newline still yields its last line; a final newline does not make an extra empty line. A
leading UTF-8 byte-order mark is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from reaction.data.formats.bad_rows import BadInputError

LINE = "line"
TEXT = "text"
_NEWLINE = 10
_BOM = b"\xef\xbb\xbf"


class Block(NamedTuple):
    """Raw bytes of whole lines: ``lines`` of them, numbered from ``first_line``."""

    data: memoryview
    first_line: int
    lines: int


def iter_blocks(
    path: Path, chunk_bytes: int = 32 << 20, max_line_bytes: int = 256 << 20
) -> Iterator[Block]:
    """Blocks of about ``chunk_bytes`` of whole lines, raw, with their line numbers.

    A line longer than ``max_line_bytes`` is an error (a binary or newline-less file would
    otherwise be read into memory whole).
    """
    first_line = 1
    carry = b""
    with path.open("rb") as fh:
        if fh.read(len(_BOM)) != _BOM:  # a UTF-8 byte-order mark (Excel CSVs) is not data
            fh.seek(0)
        while block := fh.read(chunk_bytes):
            buf = carry + block if carry else block
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                if len(buf) > max_line_bytes:
                    raise BadInputError(
                        path, first_line, f"line longer than {max_line_bytes} bytes"
                    )
                carry = buf
                continue
            carry = buf[cut:]
            lines = buf.count(b"\n", 0, cut)
            yield Block(memoryview(buf)[:cut], first_line, lines)
            first_line += lines
    if carry:
        yield Block(memoryview(carry), first_line, 1)


def count_lines(path: Path, chunk_bytes: int = 32 << 20) -> int:
    """Physical lines of a file (a last line without newline counts), reading it once."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while block := fh.read(chunk_bytes):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def lines_frame(buf: memoryview, first_line: int) -> pl.DataFrame:
    """One block of lines as ``(line, text)``; zero-copy into arrow when it is valid UTF-8."""
    data = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(data == _NEWLINE) + 1
    if len(ends) == 0 or ends[-1] != len(data):
        ends = np.append(ends, len(data))  # last line without newline
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    try:
        bytes(buf).decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_each(buf, offsets)
    else:
        array = pa.Array.from_buffers(
            pa.large_utf8(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
        )
        text = pl.Series(TEXT, array)
    text = text.str.strip_suffix("\n").str.strip_suffix("\r")
    line = pl.int_range(first_line, first_line + len(ends), dtype=pl.UInt64, eager=True)
    return pl.DataFrame({LINE: line, TEXT: text})


def _decode_each(buf: memoryview, offsets: np.ndarray) -> pl.Series:
    """Slow path for a chunk holding bad UTF-8: decode line by line, null where invalid."""
    raw = bytes(buf)
    values: list[str | None] = []
    for start, stop in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
        try:
            values.append(raw[start:stop].decode("utf-8"))
        except UnicodeDecodeError:
            values.append(None)
    return pl.Series(TEXT, values, dtype=pl.String)
