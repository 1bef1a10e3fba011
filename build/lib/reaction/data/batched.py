"""Rewrite parquet files through a per-batch transform: bounded memory, exact row groups.

Why not a lazy ``sink_parquet``: polars' streaming engine cannot stream every expression (the
vocabulary lookups with ``replace_strict``) and silently falls back to materialising the whole
query: 5.7 GB RSS to encode 8M Criteo rows. Here memory is one batch plus the transform's own
state, whatever the file size, and every row group but the last has exactly ``row_group_rows``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


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
    pending: list[pa.Table] = []
    buffered = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for frame in _batches(paths, columns, batch_rows):
            pending.append(transform(frame).to_arrow().cast(schema))
            buffered += pending[-1].num_rows
            if buffered >= row_group_rows:
                table = pa.concat_tables(pending)
                whole = buffered - buffered % row_group_rows
                writer.write_table(table.slice(0, whole), row_group_size=row_group_rows)
                pending, buffered = [table.slice(whole)], buffered - whole
        if buffered:
            writer.write_table(pa.concat_tables(pending), row_group_size=row_group_rows)


def _batches(
    paths: tuple[Path, ...], columns: tuple[str, ...], rows: int
) -> Iterator[pl.DataFrame]:
    """Whole row groups, gathered up to ``rows`` rows. Not ``iter_batches``: with its default
    ``pre_buffer`` pyarrow keeps every column chunk read so far (750 MB after 3M Criteo rows)."""
    for path in paths:
        parquet = pq.ParquetFile(path, pre_buffer=False)
        group: list[int] = []
        size = 0
        for i in range(parquet.num_row_groups):
            group.append(i)
            size += parquet.metadata.row_group(i).num_rows
            if size >= rows or i == parquet.num_row_groups - 1:
                frame = pl.from_arrow(parquet.read_row_groups(group, columns=list(columns)))
                assert isinstance(frame, pl.DataFrame)
                yield frame
                group, size = [], 0
