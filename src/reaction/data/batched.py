"""Rewrite parquet files through a per-batch transform: bounded memory, exact row groups.

The zstd write of one batch runs on a background thread (pyarrow releases the GIL) while the
next batch is read and transformed; at most one write is in flight, so memory stays two batches.

Why not a lazy ``sink_parquet``: polars' streaming engine cannot stream every expression (the
vocabulary lookups) and silently falls back to materialising the whole query: 5.7 GB RSS to
encode 8M Criteo rows. Here memory is two batches plus the transform's own state, whatever the
file size, and every row group but the last has exactly ``row_group_rows``.

The batches are planned (:func:`plan_batches`) apart from reading them, so the encode stage in
parts (``reaction.data.encode_parts``) transforms exactly the batches of the one-process build
and hands the results to the same writer (:func:`write_row_groups`): the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import NamedTuple

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


class Batch(NamedTuple):
    """Rows ``start .. start + rows`` of one parquet file: whole row groups."""

    path: Path
    start: int
    rows: int


def transform_parquet(
    paths: tuple[Path, ...],
    columns: tuple[str, ...],
    transform: Callable[[pl.DataFrame], pl.DataFrame],
    empty: pl.DataFrame,
    out: Path,
    row_group_rows: int,
    batch_rows: int,
) -> None:
    """Write ``transform`` of ``columns`` of ``paths`` (in order) to ``out``.

    ``empty`` is a zero-row input whose transform fixes the output schema (and is what an empty
    split is written as); ``batch_rows`` bounds memory and amortises per-batch setup costs.
    """
    schema = transform(empty).to_arrow().schema
    frames = read_batches(plan_batches(paths, batch_rows), columns)
    write_row_groups((transform(f).to_arrow() for f in frames), schema, out, row_group_rows)


def write_row_groups(
    tables: Iterable[pa.Table], schema: pa.Schema, out: Path, row_group_rows: int
) -> None:
    """``tables`` (cast to ``schema``) into ``out`` as zstd row groups of ``row_group_rows``."""
    pending: list[pa.Table] = []
    buffered = 0
    with (
        pq.ParquetWriter(out, schema, compression="zstd") as writer,
        ThreadPoolExecutor(max_workers=1) as thread,
    ):
        write = partial(writer.write_table, row_group_size=row_group_rows)
        written: Future | None = None
        for table in tables:
            pending.append(table.cast(schema))
            buffered += pending[-1].num_rows
            if buffered >= row_group_rows:
                table = pa.concat_tables(pending)
                whole = buffered - buffered % row_group_rows
                if written is not None:
                    written.result()
                written = thread.submit(write, table.slice(0, whole))
                pending, buffered = [table.slice(whole)], buffered - whole
        if written is not None:
            written.result()
        if buffered:
            write(pa.concat_tables(pending))


def plan_batches(paths: tuple[Path, ...], rows: int) -> list[Batch]:
    """Whole row groups of each file, gathered up to ``rows`` rows: batches end on row-group
    edges so that no row group is decoded twice, and never span two files."""
    batches = []
    for path in paths:
        metadata = pq.ParquetFile(path).metadata
        start = size = 0
        for i in range(metadata.num_row_groups):
            size += metadata.row_group(i).num_rows
            if size >= rows or i == metadata.num_row_groups - 1:
                batches.append(Batch(path, start, size))
                start, size = start + size, 0
    return batches


def read_batches(batches: Iterable[Batch], columns: tuple[str, ...]) -> Iterator[pl.DataFrame]:
    """Each batch read by polars (half the CPU of pyarrow plus ``from_arrow``, which copies every
    string into polars' layout). Not pyarrow's ``iter_batches``: with its default ``pre_buffer``
    it keeps every column chunk read so far (750 MB after 3M Criteo rows)."""
    for batch in batches:
        yield pl.scan_parquet(batch.path).select(columns).slice(batch.start, batch.rows).collect()


def spans(batches: Iterable[Batch]) -> list[Batch]:
    """Consecutive batches of one file joined: fewer, longer reads of the same rows."""
    joined: list[Batch] = []
    for b in batches:
        last = joined[-1] if joined else None
        if last is not None and last.path == b.path and last.start + last.rows == b.start:
            joined[-1] = Batch(b.path, last.start, last.rows + b.rows)
        else:
            joined.append(b)
    return joined
