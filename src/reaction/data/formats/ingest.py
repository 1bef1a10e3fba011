"""Stream raw files through a :class:`TableFormat` into ``{train,val,test}.parquet``.

One chunk of lines (or parquet rows) at a time: parse, validate, apply the bad-row policy,
assign splits, append to one ``ParquetWriter`` per split. Memory is bounded by the chunk size,
never by the file size. The output goes into a folder that ``reaction.data.cache.publish`` seals
with a manifest, keyed by :func:`ingest_fingerprint`, so a killed ingest is never reused.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from reaction.data.cache import file_identity
from reaction.data.formats.bad_rows import (
    BAD_SCHEMA,
    BadInputError,
    BadRowPolicy,
    FileReport,
    check_policy,
    summarize,
)
from reaction.data.formats.clean_block import read_clean
from reaction.data.formats.lines import (
    LINE,
    TEXT,
    Block,
    count_lines,
    iter_blocks,
    lines_frame,
)
from reaction.data.formats.rows import empty_output, split_lines, typed_rows
from reaction.data.formats.splits import SPLIT_CODES, FilePlan, assign
from reaction.data.formats.table import TableFormat

log = logging.getLogger(__name__)

# bump whenever the output files of the same input would change; v2: uncompressed, no statistics;
# v3: no dictionary pages either (the write costs a third less, the encode stage's read a fifth),
# strings stored as arrow string views (polars' own layout: handed to the writer without a copy)
INGEST_VERSION = "ingest-v3"
INGEST_PARQUET = {"compression": "none", "write_statistics": False, "use_dictionary": False}
_IN_FLIGHT = 3  # chunk writes queued behind the parser (one chunk's splits)
_PARSE_THREADS = 2  # blocks parsed at once
REPORT = "ingest.json"
REQUIRED = (REPORT, *(f"{split}.parquet" for split in SPLIT_CODES))
_NUMERIC_KINDS = (pl.String, pl.Boolean)


@dataclass(frozen=True)
class IngestOptions:
    """``on_bad_rows`` enters the fingerprint (a cache that skipped rows must not satisfy an
    ``error`` run); chunk size and report length do not change the rows written."""

    on_bad_rows: BadRowPolicy = "error"
    chunk_bytes: int = 8 << 20
    parquet_batch_rows: int = 65_536
    max_reported: int = 10

    def __post_init__(self) -> None:
        check_policy(self.on_bad_rows)
        if self.chunk_bytes < 1 or self.parquet_batch_rows < 1 or self.max_reported < 0:
            raise ValueError(f"bad ingest options: {self}")


def ingest_fingerprint(fmt: TableFormat, plans: list[FilePlan], options: IngestOptions) -> str:
    """sha256 of the input files' identities (path, size, mtime, head/tail hash), their split
    destinations, the format, the bad-row policy and ``INGEST_VERSION``."""
    payload = {
        "format": fmt.describe(),
        "files": [{"split": p.describe(), **file_identity(p.path)} for p in plans],
        "on_bad_rows": options.on_bad_rows,
        "version": INGEST_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def ingest(
    fmt: TableFormat, plans: list[FilePlan], options: IngestOptions, out: Path
) -> dict[str, Any]:
    """Write every plan's rows into ``out/<split>.parquet`` and the report ``out/ingest.json``."""
    start = time.perf_counter()
    with SplitWriters(out, fmt) as writers:
        reports = [ingest_file(fmt, plan, options, writers).to_dict() for plan in plans]
    return write_report(fmt, options, reports, writers.rows, out, time.perf_counter() - start)


def write_report(
    fmt: TableFormat,
    options: IngestOptions,
    reports: list[dict[str, Any]],
    rows: dict[str, int],
    out: Path,
    seconds: float,
) -> dict[str, Any]:
    """``out/ingest.json`` from the per-file reports (in plan order) and rows per split."""
    report = {
        "dataset": fmt.name,
        "on_bad_rows": options.on_bad_rows,
        "rows": rows,
        **summarize(reports, options.max_reported),
        "files": reports,
        "seconds": round(seconds, 3),
    }
    (out / REPORT).write_text(json.dumps(report, indent=2))
    log.info(
        "ingested %s: %d rows read, %d kept, %d skipped in %.1f s",
        fmt.name,
        report["rows_read"],
        report["rows_kept"],
        report["rows_skipped"],
        report["seconds"],
    )
    return report


def ingest_file(
    fmt: TableFormat, plan: FilePlan, options: IngestOptions, writers: SplitWriters
) -> FileReport:
    """One raw file through the chunked parse into ``writers``; what it read, kept and skipped."""
    path = plan.path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise BadInputError(path, 0, "empty file")
    report = FileReport(str(path), plan.describe(), options.max_reported)
    if fmt.file_kind == "parquet":
        chunks = _parquet_chunks(path, fmt, options.parquet_batch_rows)
        first_data_line, data_lines = 1, pq.ParquetFile(path).metadata.num_rows
    else:
        chunks = _text_chunks(path, fmt, options.chunk_bytes)
        first_data_line = 2 if fmt.header else 1
        data_lines = 0
        if plan.rows is not None and plan.rows.mode == "sequential":
            data_lines = count_lines(path, options.chunk_bytes) - (first_data_line - 1)
    for good, bad in chunks:
        report.rows_read += good.height + bad.height
        report.record(bad, options.on_bad_rows)
        report.rows_kept += good.height
        _count_nonfinite(good, fmt, report)
        codes = assign(good[LINE].to_numpy(), plan, first_data_line, data_lines)
        for split, part in _split_parts(good.drop(LINE), codes):
            writers.write(split, part)
    return report


def _split_parts(rows: pl.DataFrame, codes: np.ndarray) -> Iterator[tuple[str, pl.DataFrame]]:
    """Each split's rows of a chunk; a chunk bound for one split passes whole (a filter copies
    every string, and whole files go to one split: BARS files, Criteo 1TB days)."""
    counts = np.bincount(codes, minlength=len(SPLIT_CODES))
    for code, split in enumerate(SPLIT_CODES):
        if not counts[code]:
            continue
        if counts[code] == rows.height:
            yield split, rows
        else:
            yield split, rows.filter(pl.Series(codes == code))


def _text_chunks(
    path: Path, fmt: TableFormat, chunk_bytes: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Parsed blocks in file order; ``_PARSE_THREADS`` blocks are parsed at once (polars and
    the CSV reader release the GIL), the next while the caller writes this one."""
    blocks = iter_blocks(path, chunk_bytes)
    names = fmt.columns
    if fmt.header:
        first = next(blocks)
        end = bytes(first.data).find(b"\n") + 1 or len(first.data)
        names = _header(path, lines_frame(first.data[:end], 1)[TEXT][0], fmt)
        rest = Block(first.data[end:], 2, first.lines - 1)
        blocks = chain([rest] if rest.lines else [], blocks)
    parse = partial(_parse_block, fmt=fmt, names=names)
    with ThreadPoolExecutor(max_workers=_PARSE_THREADS) as pool:
        pending: deque[Future] = deque()
        for block in blocks:
            pending.append(pool.submit(parse, block))
            if len(pending) > _PARSE_THREADS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _parse_block(
    block: Block, fmt: TableFormat, names: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One block's typed rows and bad rows (sorted by line); the CSV reader where it is exact."""
    raw = read_clean(block.data, block.first_line, block.lines, fmt, names)
    bad_lines = pl.DataFrame(schema=BAD_SCHEMA)
    if raw is None:
        raw, bad_lines = split_lines(lines_frame(block.data, block.first_line), fmt, names)
    good, bad_values = typed_rows(raw, fmt)
    return good, pl.concat([bad_lines, bad_values]).sort(LINE)


def _header(path: Path, text: str | None, fmt: TableFormat) -> tuple[str, ...]:
    """Column names from a header line; every column the format reads must be there once."""
    if text is None:
        raise BadInputError(path, 1, "header is not valid UTF-8")
    if fmt.quote is None:
        names = tuple(text.split(fmt.separator))
    else:
        names = tuple(next(csv.reader([text], delimiter=fmt.separator, quotechar=fmt.quote)))
    _check_columns(path, names, fmt, line=1, where="header")
    return names


def _check_columns(
    path: Path, names: tuple[str, ...], fmt: TableFormat, line: int, where: str
) -> None:
    """A schema naming a column the file lacks fails here, whatever ``on_bad_rows`` says."""
    missing = [c for c in fmt.required_columns if c not in names]
    if missing:
        raise BadInputError(path, line, f"{where} has no column {missing} (it has {list(names)})")
    twice = [c for c in fmt.required_columns if names.count(c) > 1]
    if twice:
        raise BadInputError(path, line, f"{where} names {twice} more than once")


def _parquet_chunks(
    path: Path, fmt: TableFormat, batch_rows: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Parquet rows in batches; ``line`` is the 1-based row number."""
    parquet = pq.ParquetFile(path, pre_buffer=False)  # pre_buffer keeps all chunks read so far
    schema = parquet.schema_arrow
    _check_columns(path, tuple(schema.names), fmt, line=0, where="parquet schema")
    dtypes = pl.DataFrame(schema.empty_table()).schema
    for column in (c for c in fmt.numeric if c in dtypes):  # derived ones are computed
        if not (dtypes[column].is_numeric() or dtypes[column] in _NUMERIC_KINDS):
            raise BadInputError(path, 0, f"numeric column {column!r} has type {dtypes[column]}")
    first = 1
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=list(fmt.required_columns)):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        lines = pl.int_range(first, first + frame.height, dtype=pl.UInt64, eager=True)
        first += frame.height
        good, bad = typed_rows(frame.with_columns(lines.alias(LINE)), fmt)
        yield good, bad


def as_arrow(frame: pl.DataFrame) -> pa.Table:
    """The frame in arrow without copying: strings stay views (a conversion to arrow's classic
    string layout copied every string and cost the ingest a third of its main thread)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def output_schema(fmt: TableFormat) -> pa.Schema:
    """The arrow schema of the ingested files (one-process writer and merge alike)."""
    return as_arrow(empty_output(fmt)).schema


def _count_nonfinite(good: pl.DataFrame, fmt: TableFormat, report: FileReport) -> None:
    """NaN/inf numeric values are kept as missing; counted so that is never silent."""
    if not fmt.numeric or good.is_empty():
        return
    counts = good.select(
        (pl.col(c).is_nan() | pl.col(c).is_infinite()).sum().alias(c) for c in fmt.numeric
    ).row(0, named=True)
    report.nonfinite_as_missing.update({c: n for c, n in counts.items() if n})


class SplitWriters:
    """One ``ParquetWriter`` per split, opened on first use; an unused split gets 0 rows.

    Writes run on one background thread (pyarrow releases the GIL), so the next chunk is parsed
    while this one is written; at most ``_IN_FLIGHT`` writes wait, which bounds the memory. The
    files are uncompressed and carry no column statistics: they are read once, by the encode
    stage, and string statistics and compression cost more than a third of the stage.
    """

    def __init__(self, out: Path, fmt: TableFormat) -> None:
        self.out = out
        self.schema = output_schema(fmt)
        self.rows = dict.fromkeys(SPLIT_CODES, 0)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._stack = ExitStack()
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._pending: deque[Future] = deque()

    def __enter__(self) -> SplitWriters:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._stack:
            try:
                while self._pending:
                    self._pending.popleft().result()
            finally:
                self._thread.shutdown(cancel_futures=True)
            for split in SPLIT_CODES:
                if split not in self._writers and exc[0] is None:
                    pq.write_table(self.schema.empty_table(), self.out / f"{split}.parquet")

    def write(self, split: str, frame: pl.DataFrame) -> None:
        if split not in self._writers:
            path = self.out / f"{split}.parquet"
            writer = pq.ParquetWriter(path, self.schema, **INGEST_PARQUET)
            self._writers[split] = self._stack.enter_context(writer)
        table = as_arrow(frame).cast(self.schema)
        self._pending.append(self._thread.submit(self._writers[split].write_table, table))
        while len(self._pending) > _IN_FLIGHT:
            self._pending.popleft().result()
        self.rows[split] += frame.height
