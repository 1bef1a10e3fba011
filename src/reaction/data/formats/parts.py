"""Ingest a folder of raw files (Criteo 1TB's ``day_<n>``, Avazu shards) one file per process or
per SLURM job, then merge: the same files, byte for byte, as the one-process :func:`ingest`.

Each file is an independent job (:func:`ingest_part`) writing ``<out>/.parts/<i>/<split>.parquet``
with the one-process writer settings, one row group per chunk. The merge job (:func:`merge_parts`)
copies those row groups in file order into ``<out>/<split>.parquet``; as the one-process build
also writes one row group per chunk and file, the merged files are identical to it
(``tests/data/test_parts.py``). Jobs are submitted through anything with
``submit(fn, *args) -> obj.result()``: a ``ProcessPoolExecutor`` (``data.preprocess_workers``)
or a ``submitit`` executor (one SLURM job per file, ``data.preprocess_slurm``). The vocabulary is
then counted over the merged training split, so it is exact whatever the number of parts.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import pyarrow.parquet as pq

from reaction.data.formats.ingest import (
    INGEST_PARQUET,
    IngestOptions,
    SplitWriters,
    ingest_file,
    output_schema,
    write_report,
)
from reaction.data.formats.splits import SPLIT_CODES, FilePlan
from reaction.data.formats.table import TableFormat

PARTS = ".parts"


class Job(Protocol):
    def result(self) -> Any: ...


class Submitter(Protocol):
    """``concurrent.futures.Executor`` and ``submitit.Executor`` both fit."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Job: ...


def ingest_part(
    fmt: TableFormat, plan: FilePlan, options: IngestOptions, out: Path
) -> tuple[dict[str, Any], dict[str, int]]:
    """One file into ``out/<split>.parquet`` (one job); its report and rows per split."""
    out.mkdir(parents=True, exist_ok=True)
    with SplitWriters(out, fmt) as writers:
        report = ingest_file(fmt, plan, options, writers).to_dict()
    return report, writers.rows


def merge_parts(fmt: TableFormat, parts: list[Path], out: Path) -> None:
    """Row groups of every part, in part order, into ``out/<split>.parquet`` (the merge job)."""
    schema = output_schema(fmt)
    for split in SPLIT_CODES:
        files = [pq.ParquetFile(part / f"{split}.parquet") for part in parts]
        groups = [(f, g) for f in files for g in range(f.num_row_groups)]
        groups = [(f, g) for f, g in groups if f.metadata.row_group(g).num_rows]
        if not groups:  # what the one-process writer leaves for a split without rows
            pq.write_table(schema.empty_table(), out / f"{split}.parquet")
            continue
        with pq.ParquetWriter(out / f"{split}.parquet", schema, **INGEST_PARQUET) as writer:
            for file, group in groups:
                writer.write_table(file.read_row_group(group))


def ingest_in_parts(
    fmt: TableFormat,
    plans: list[FilePlan],
    options: IngestOptions,
    out: Path,
    submitter: Submitter,
) -> dict[str, Any]:
    """:func:`ingest`, one job per file and one merge job; errors surface in file order."""
    start = time.perf_counter()
    parts = [out / PARTS / str(i) for i in range(len(plans))]
    jobs = [
        submitter.submit(ingest_part, fmt, plan, options, part)
        for plan, part in zip(plans, parts, strict=True)
    ]
    results = [job.result() for job in jobs]  # the first file's bad row is the error raised
    submitter.submit(merge_parts, fmt, parts, out).result()
    shutil.rmtree(out / PARTS)
    rows = {split: sum(r[1][split] for r in results) for split in SPLIT_CODES}
    reports = [r[0] for r in results]
    return write_report(fmt, options, reports, rows, out, time.perf_counter() - start)


@contextmanager
def process_pool(workers: int) -> Iterator[Submitter]:
    """``workers`` spawned processes (not forked: polars' thread pool does not survive a fork)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        try:
            yield pool
        except BaseException:
            pool.shutdown(cancel_futures=True)  # after a bad file, queued files never start
            raise


@contextmanager
def slurm_executor(folder: str | Path, parameters: dict[str, Any]) -> Iterator[Submitter]:
    """A ``submitit.AutoExecutor`` (one SLURM job per call; ``cluster: local`` runs them as local
    processes, which is how the tests run it); ``parameters`` go to ``update_parameters``."""
    import submitit  # optional: only the SLURM path needs it

    parameters = dict(parameters)
    executor = submitit.AutoExecutor(folder=folder, cluster=parameters.pop("cluster", None))
    executor.update_parameters(**parameters)
    yield executor
