"""Ingest a folder of raw files (Criteo 1TB's ``day_<n>``, Avazu shards) one file per process or
per SLURM job, then merge: the same files, byte for byte, as the one-process :func:`ingest`.

Each file is an independent job (:func:`ingest_part`) writing ``<out>/.parts/<i>/<split>.parquet``
with the one-process writer settings, one row group per chunk. The merge job (:func:`merge_parts`)
copies those row groups in file order into ``<out>/<split>.parquet``; as the one-process build
also writes one row group per chunk and file, the merged files are identical to it
(``tests/data/test_parts.py``). Jobs run in a pool of processes or as SLURM jobs
(``reaction.data.jobs``); the encode stage that follows is cut into parts the same way
(``reaction.data.encode_parts``).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

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
from reaction.data.jobs import Submitter

PARTS = ".parts"


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
