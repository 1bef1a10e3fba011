"""``FileSource``: raw files of a public format as a ``RawSource`` for ``CTRDataModule``.

``prepare()`` ingests the files once into ``<root>/<name>-<fingerprint>/`` (validated, typed
parquet per split, plus ``ingest.json``) and returns the ``RawSplits`` that the existing
preprocessing (vocabularies, bucketing, id encoding) turns into the training cache. Later calls,
from any process or DDP rank, find the sealed folder and return at once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from reaction.data.cache import clean_stale_temps, publish, remove_dir, validate
from reaction.data.formats.bad_rows import BadRowPolicy
from reaction.data.formats.ingest import (
    REPORT,
    REQUIRED,
    IngestOptions,
    ingest,
    ingest_fingerprint,
)
from reaction.data.formats.parts import ingest_in_parts
from reaction.data.formats.splits import FilePlan, SplitConfig, plan_files
from reaction.data.formats.table import TableFormat
from reaction.data.jobs import Jobs
from reaction.data.preprocess import RawSplits

log = logging.getLogger(__name__)

SUMMARY_KEYS = ("rows_read", "rows_kept", "rows_skipped", "skipped_by_kind", "first_skipped")


class FileSource:
    """A dataset on disk: ``path`` (file or folder, see ``reaction.data.formats.splits``) read
    with ``reader``; ``root`` holds the ingested splits (a cache, safe to delete).

    A folder of files is ingested by ``workers`` processes, or with ``slurm`` (submitit executor
    parameters; ``folder`` for its logs) one SLURM job per file, then merged into the same bytes
    as the one-process build (``reaction.data.formats.parts``). The encode stage runs in as many
    parts on the same processes or jobs (:attr:`jobs`)."""

    def __init__(
        self,
        reader: TableFormat,
        path: str | Path,
        root: str | Path,
        split: SplitConfig | None = None,
        on_bad_rows: BadRowPolicy = "error",
        chunk_bytes: int = 8 << 20,
        max_reported: int = 10,
        name: str | None = None,
        workers: int = 1,
        slurm: dict[str, Any] | None = None,
    ) -> None:
        self._jobs = Jobs(workers, slurm or None, log_folder=Path(root) / "submitit")
        self.reader = reader
        self.path = Path(path)
        self.root = Path(root)
        self.split = split if split is not None else SplitConfig()
        self.options = IngestOptions(
            on_bad_rows=on_bad_rows, chunk_bytes=chunk_bytes, max_reported=max_reported
        )
        self.name = name or reader.name
        self._files: int | None = None
        self._report: dict[str, Any] | None = None

    @property
    def jobs(self) -> Jobs:
        """How the build runs in parts: ``workers`` processes (as many encode parts), or with
        ``slurm`` one job per input file, for the encode too once :meth:`prepare` has run (or
        ``workers`` encode jobs where that is more: a single large file)."""
        if self._jobs.slurm is None or self._files is None:
            return self._jobs
        return replace(self._jobs, parts=max(self._files, self._jobs.workers))

    def prepare(self) -> RawSplits:
        """Ingest when no valid ingest of exactly these inputs exists; return its splits."""
        plans = plan_files(self.path, self.split)
        self._files = len(plans)
        fp = ingest_fingerprint(self.reader, plans, self.options)
        out = self.root / f"{self.name}-{fp[:16]}"
        self.root.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(self.root)
        problem = validate(out, fp, False, REQUIRED) if out.exists() else "absent"
        if problem is not None:
            if out.exists():
                log.warning("ingest cache %s is invalid (%s); rebuilding", out, problem)
                remove_dir(out)
            log.info("ingesting %s from %s into %s", self.name, self.path, out)
            publish(out, fp, partial(self._ingest, plans), REQUIRED, verify_hash=False)
        self._report = json.loads((out / REPORT).read_text())
        r = self.reader
        return RawSplits(
            train=(out / "train.parquet",),
            val=(out / "val.parquet",),
            test=(out / "test.parquet",),
            labels=r.label_names,
            categorical=r.categorical,
            numeric=r.numeric,
            dataset=self.name,
        )

    def _ingest(self, plans: list[FilePlan], out: Path) -> None:
        """One process, or one job per file and a merge job (same output, ``formats.parts``)."""
        jobs = self._jobs
        if jobs.slurm is not None or (jobs.workers > 1 and len(plans) > 1):
            with jobs.submitter(len(plans)) as submitter:
                ingest_in_parts(self.reader, plans, self.options, out, submitter)
        else:
            ingest(self.reader, plans, self.options, out)

    def input_report(self) -> dict[str, Any]:
        """The full ``ingest.json`` of the inputs: per file rows read/kept/skipped and why."""
        if self._report is None:
            self.prepare()
        assert self._report is not None
        return self._report

    def input_summary(self) -> dict[str, Any]:
        """The compact part for ``results.json``: totals and the first skipped rows."""
        report = self.input_report()
        return {key: report[key] for key in SUMMARY_KEYS} | {"on_bad_rows": report["on_bad_rows"]}
