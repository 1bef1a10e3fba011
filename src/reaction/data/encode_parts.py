"""The encode stage in parts: vocabulary counts and ids computed per part of the rows, in a pool
of processes or SLURM jobs (``reaction.data.jobs``), assembled into the bytes of the one-process
build.

A part is a run of the one-process build's batches (``reaction.data.batched.plan_batches``) of
each split, cut so that the parts hold about as many rows each. Four kinds of jobs:

1. :func:`count_part`, one per part: every value's count over the part's training rows (no
   ``min_count`` yet: a value rare in every part may be frequent overall), in hash partitions
   of at most the memory cap of ``reaction.data.vocab`` (a power of two of them);
2. :func:`merge_fields`, one per group of fields (as many groups as parts): each field's counts
   summed exactly over the parts (``vocab.merge_counts``: partitions that nest, so each merge
   pass reads only the files that can hold its values), then ``min_count`` and the id order --
   the one-process vocabulary, which depends only on the total counts;
3. :func:`encode_part`, one per part: its batches through the same transform
   (``encoding.batch_encoder``) into an lz4 Arrow IPC file per split;
4. :func:`assemble`, one: every part's encoded batches in order through the one-process zstd
   writer (``batched.write_row_groups``), which cuts row groups by row count alone: the same bytes.

Quantile edges (``numeric_policy=quantile``) are computed before, by the caller, over the whole
training split: quantiles cannot be merged exactly from parts.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from reaction.data import vocab
from reaction.data.batched import Batch, plan_batches, read_batches, spans, write_row_groups
from reaction.data.encoding import batch_encoder, empty_input, scan_batches, value_exprs
from reaction.data.jobs import Jobs, Submitter, results, timed

if TYPE_CHECKING:
    from reaction.data.preprocess import PreprocessConfig, RawSplits

log = logging.getLogger(__name__)

WORK = ".encode-parts"  # inside the build's temp dir, removed before its manifest is written
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")
Edges = dict[str, tuple[float, ...]]


@dataclass(frozen=True)
class Part:
    """Part ``index`` of ``count``: its batches of each split, in the one-process order."""

    index: int
    count: int
    batches: dict[str, tuple[Batch, ...]]

    def describe(self) -> str:
        """E.g. ``encode part 2 of 3 (train: train.parquet rows 512..1024; val: none; ...)``."""
        where = []
        for split, batches in self.batches.items():
            rows = [f"{b.path.name} rows {b.start}..{b.start + b.rows}" for b in spans(batches)]
            where.append(f"{split}: {', '.join(rows) or 'none'}")
        return f"encode part {self.index + 1} of {self.count} ({'; '.join(where)})"


def plan_parts(raw: RawSplits, batch_rows: int, count: int) -> list[Part]:
    """``count`` parts; each split's batches cut into contiguous runs of about equal rows (a
    part may get no rows of a split)."""
    runs = {s: _cut(plan_batches(paths, batch_rows), count) for s, paths in raw.files.items()}
    return [Part(i, count, {s: r[i] for s, r in runs.items()}) for i in range(count)]


def _cut(batches: list[Batch], count: int) -> list[tuple[Batch, ...]]:
    """A batch goes to the part its first row falls in when the rows are split evenly."""
    total = sum(b.rows for b in batches)
    runs: list[list[Batch]] = [[] for _ in range(count)]
    before = 0
    for batch in batches:
        runs[min(count - 1, before * count // max(total, 1))].append(batch)
        before += batch.rows
    return [tuple(run) for run in runs]


def encode_in_parts(
    raw: RawSplits,
    config: PreprocessConfig,
    edges: Edges,
    out: Path,
    vocab_dir: Path,
    jobs: Jobs,
    batch_rows: int,
) -> list[pl.DataFrame]:
    """Write the vocabularies into ``vocab_dir`` and the splits into ``out`` in parts; return
    the vocabularies. A failed job raises ``PartFailedError`` naming its part or field."""
    parts = plan_parts(raw, batch_rows, jobs.num_parts)
    dirs = [out / WORK / str(part.index) for part in parts]
    cap = vocab.MAX_VALUES_PER_PASS  # read now: the jobs run in other processes
    numbered = list(zip(parts, dirs, strict=True))
    with jobs.submitter(len(parts)) as submitter:
        run = partial(_phase, submitter)
        counted = run(
            "counts",
            {f"counting values of {p.describe()}": (count_part, raw, config, edges, p, d, cap)
             for p, d in numbered},
        )  # fmt: skip
        merges = _merge_jobs(raw.fields, counted, config.min_count, cap, vocab_dir, len(parts))
        run("merges", merges)
        run(
            "ids",
            {p.describe(): (encode_part, raw, config, edges, vocab_dir, p, d) for p, d in numbered},
        )
        assembly = (assemble, dirs, out, tuple(raw.files), config.row_group_rows)
        run("assembly", {"assembling the encoded parts": assembly})
    shutil.rmtree(out / WORK)
    return [pl.read_parquet(vocab_dir / f"{f}.parquet") for f in raw.fields]


def _phase(submitter: Submitter, phase: str, tasks: dict[str, tuple[Any, ...]]) -> list[Any]:
    """One job per ``name: (fn, *args)``, all at once; their results in order. Logs the wall
    time and the jobs' CPU seconds (where a build in parts spends it: see docs/DATASETS.md)."""
    start = time.perf_counter()
    jobs = [submitter.submit(timed, *task) for task in tasks.values()]
    done = results(jobs, list(tasks))
    log.info(
        "encode in parts, %s (%d jobs): %.1f s wall, %.1f CPU-s in the jobs",
        phase,
        len(jobs),
        time.perf_counter() - start,
        sum(cpu for _, cpu in done),
    )
    return [result for result, _ in done]


def count_part(
    raw: RawSplits, config: PreprocessConfig, edges: Edges, part: Part, out: Path, cap: int
) -> dict[str, list[vocab.CountFile]]:
    """One job: each field's ``(value, count)`` over the part's training rows, in hash
    partitions of at most ``cap`` values, one file each."""
    out.mkdir(parents=True, exist_ok=True)
    batches = spans(part.batches["train"])
    values = scan_batches(batches, raw).select(value_exprs(raw, config, edges))
    files: dict[str, list[vocab.CountFile]] = {}
    bounds = vocab.distinct_bounds(values, raw.fields, cap)
    for j, (field, distinct) in enumerate(zip(raw.fields, bounds, strict=True)):
        passes = vocab.passes_for(distinct, cap)
        files[field] = []
        for i, piece in enumerate(vocab.count_values(values, field, 1, passes)):
            path = out / f"counts-{j}-{i}.parquet"  # by index: a field name may not suit a path
            piece.write_parquet(path, compression="lz4")
            files[field].append(vocab.CountFile(path, piece.height, i, passes))
    return files


MergeTask = tuple[list[vocab.CountFile], int, int, Path]  # count files, min count, cap, out


def _merge_jobs(
    fields: tuple[str, ...],
    counted: list[dict[str, list[vocab.CountFile]]],
    min_count: int,
    cap: int,
    vocab_dir: Path,
    jobs: int,
) -> dict[str, tuple[Any, ...]]:
    """The fields dealt round-robin to at most ``jobs`` merge jobs: name -> (function, tasks)."""
    tasks: list[MergeTask] = [
        (
            [f for part in counted for f in part[field]],
            min_count,
            cap,
            vocab_dir / f"{field}.parquet",
        )
        for field in fields
    ]
    return {
        f"merging the counts of {list(fields[g::jobs])}": (merge_fields, tasks[g::jobs])
        for g in range(min(jobs, len(fields)))
    }


def merge_fields(tasks: list[MergeTask]) -> None:
    """One job per group of fields: each field's counts summed over the parts, written as its
    vocabulary file."""
    for files, min_count, cap, out in tasks:
        vocab.order_vocab(vocab.merge_counts(files, min_count, cap)).write_parquet(out)


def encode_part(
    raw: RawSplits,
    config: PreprocessConfig,
    edges: Edges,
    vocab_dir: Path,
    part: Part,
    out: Path,
) -> None:
    """One job: the part's batches of every split -> ids, one IPC record batch per batch."""
    vocabs = [pl.read_parquet(vocab_dir / f"{f}.parquet") for f in raw.fields]
    encode = batch_encoder(raw, config, edges, vocabs)
    schema = encode(empty_input(raw)).to_arrow().schema
    for split, batches in part.batches.items():
        with pa.ipc.new_file(out / f"{split}.arrow", schema, options=_IPC) as writer:
            for frame in read_batches(batches, raw.columns):
                writer.write_table(encode(frame).to_arrow().cast(schema))


def assemble(dirs: list[Path], out: Path, splits: tuple[str, ...], row_group_rows: int) -> None:
    """One job: every part's encoded batches, in part order, into ``out/<split>.parquet``."""
    for split in splits:
        files = [d / f"{split}.arrow" for d in dirs]
        schema = pa.ipc.open_file(files[0]).schema
        write_row_groups(_tables(files), schema, out / f"{split}.parquet", row_group_rows)


def _tables(files: list[Path]) -> Iterator[pa.Table]:
    """The record batches of ``files`` in order, one table each (the map is not closed here:
    the writer may still hold the last tables of a file when the next one is opened)."""
    for path in files:
        reader = pa.ipc.open_file(pa.memory_map(str(path)))
        for i in range(reader.num_record_batches):
            yield pa.Table.from_batches([reader.get_batch(i)])
