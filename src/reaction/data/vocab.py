"""Vocabularies fitted on the training split with bounded memory.

Kept values (training count >= ``min_count``) get ids 2.. by descending count, then value; the
result is the same however the counting is split -- in hash partitions (the memory cap below) or
over parts of the rows whose counts are summed (:func:`merge_counts`) -- so neither changes output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import polars as pl

from reaction.data.schema import NUM_SPECIAL_IDS

# distinct values of one field counted in one pass: caps the count table's memory
MAX_VALUES_PER_PASS = 2_000_000


def fit_vocabs(values: pl.LazyFrame, fields: tuple[str, ...], min_count: int) -> list[pl.DataFrame]:
    """Training counts per value; kept values get ids 2.. by descending count, then value.

    One field at a time, so the peak memory follows the largest field's count table rather than
    the sum over fields; a field with more than ``MAX_VALUES_PER_PASS`` distinct values (by a
    HyperLogLog estimate, skipped when the split has fewer rows than the cap) is counted in
    ``ceil(distinct / MAX_VALUES_PER_PASS)`` hash partitions, one pass over the column each, so
    no count table grows past the cap however long the tail.
    """
    cap = MAX_VALUES_PER_PASS
    distinct = distinct_bounds(values, fields, cap)
    return [
        order_vocab(count_values(values, f, min_count, -(-n // cap)))
        for f, n in zip(fields, distinct, strict=True)
    ]


def distinct_bounds(values: pl.LazyFrame, fields: tuple[str, ...], cap: int) -> tuple[int, ...]:
    """Upper bounds of each field's distinct values: the row count where that is under ``cap``
    (read from the parquet footers), else a HyperLogLog estimate (a pass over every column)."""
    rows = int(values.select(pl.len()).collect().item())
    if rows <= cap:
        return (rows,) * len(fields)
    estimate = values.select(pl.col(f).approx_n_unique() for f in fields)
    return tuple(int(n) for n in estimate.collect(engine="streaming").row(0))


def count_values(
    values: pl.LazyFrame, field: str, min_count: int, parts: int
) -> Iterator[pl.DataFrame]:
    """``(value, count)`` of one field's non-null values with ``count >= min_count``, in
    ``parts`` hash partitions (one pass over the column each)."""
    column = values.select(pl.col(field).alias("value")).drop_nulls()
    for part in range(max(parts, 1)):
        rows = column if parts <= 1 else column.filter(pl.col("value").hash(0) % parts == part)
        counts = rows.group_by("value").agg(pl.len().cast(pl.Int64).alias("count"))
        yield counts.filter(pl.col("count") >= min_count).collect(engine="streaming")


class CountFile(NamedTuple):
    """Counts of one part of the rows: the ``(value, count)`` of its values whose hash falls in
    ``partition`` of ``partitions`` (a power of two, so the partitions of parts nest)."""

    path: Path
    rows: int
    partition: int
    partitions: int


def passes_for(distinct: int, cap: int) -> int:
    """Hash partitions that keep a count table under ``cap`` values: a power of two, so that
    partition ``j`` of ``2^m`` holds only values of partition ``j mod 2^k`` of ``2^k <= 2^m``."""
    return 1 << max(0, -(-distinct // cap) - 1).bit_length()


def merge_counts(files: list[CountFile], min_count: int, cap: int) -> Iterator[pl.DataFrame]:
    """What :func:`count_values` gives over all rows, from the count files of parts of the rows:
    each value's counts summed exactly, in hash partitions of at most ``cap`` values (by a
    HyperLogLog estimate of the merged values); a partition reads only the files that can hold
    its values."""
    passes = passes_for(_merged_distinct(files, cap), cap)
    for part in range(passes):
        chosen = [f.path for f in files if (f.partition - part) % min(f.partitions, passes) == 0]
        rows = pl.concat([pl.scan_parquet(path) for path in chosen])
        if passes > 1:
            rows = rows.filter(pl.col("value").hash(0) % passes == part)
        total = rows.group_by("value").agg(pl.col("count").sum())
        yield total.filter(pl.col("count") >= min_count).collect(engine="streaming")


def _merged_distinct(files: list[CountFile], cap: int) -> int:
    """The summed rows where that is under ``cap``, else a HyperLogLog estimate of the values."""
    rows = sum(f.rows for f in files)
    if rows <= cap:
        return rows
    values = pl.concat([pl.scan_parquet(f.path) for f in files]).select(pl.col("value"))
    return int(values.select(pl.col("value").approx_n_unique()).collect(engine="streaming").item())


def order_vocab(counts: Iterator[pl.DataFrame]) -> pl.DataFrame:
    """Kept ``(value, count)`` pieces -> the vocabulary: ids 2.. by descending count, then value."""
    return (
        pl.concat(list(counts))
        .sort(["count", "value"], descending=[True, False])
        .with_row_index("id", offset=NUM_SPECIAL_IDS)
        .select("value", pl.col("id").cast(pl.Int32), "count")
    )
