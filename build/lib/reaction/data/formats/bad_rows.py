"""The bad-row policy (``data.on_bad_rows: skip|error``) and the per-file ingest report.

``error`` stops at the first bad row in file order, naming file and line; ``skip`` drops bad rows
and counts them by kind, keeping the first few line numbers with their reasons, so a skipped row
is always visible in ``preprocess.json`` and the run's ``results.json``. Never a silent wrong
value: a row is either kept with exactly the values in the file or reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

BadRowPolicy = Literal["skip", "error"]
POLICIES = ("skip", "error")
BAD_SCHEMA = {"line": pl.UInt64, "kind": pl.String, "message": pl.String}


class BadInputError(ValueError):
    """Malformed input at ``path:line`` (line 0: the file as a whole)."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path, self.line, self.reason = Path(path), line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[type, tuple[Path, int, str]]:
        """Picklable with its fields, so it crosses from an ingest worker process unchanged."""
        return (type(self), (self.path, self.line, self.reason))


def check_policy(policy: str) -> BadRowPolicy:
    if policy not in POLICIES:
        raise ValueError(f"data.on_bad_rows must be skip|error, got {policy!r}")
    return policy  # type: ignore[return-value]


@dataclass
class FileReport:
    """What ingesting one file did: rows read/kept/skipped, why, and where."""

    path: str
    split: str
    max_reported: int = 10
    rows_read: int = 0
    rows_kept: int = 0
    skipped_by_kind: Counter[str] = field(default_factory=Counter)
    first_skipped: list[dict[str, Any]] = field(default_factory=list)
    nonfinite_as_missing: Counter[str] = field(default_factory=Counter)

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped_by_kind.values())

    def record(self, bad: pl.DataFrame, policy: BadRowPolicy) -> None:
        """Apply the policy to one chunk's bad rows (sorted by line)."""
        if bad.is_empty():
            return
        if policy == "error":
            line, _, message = bad.row(0)
            hint = "data.on_bad_rows=skip drops and counts such rows"
            raise BadInputError(Path(self.path), line, f"{message} ({hint})")
        self.skipped_by_kind.update(dict(bad.group_by("kind").len().iter_rows()))
        room = self.max_reported - len(self.first_skipped)
        for line, _, message in bad.head(max(room, 0)).iter_rows():
            self.first_skipped.append({"line": line, "reason": message})

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "split": self.split,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_skipped": self.rows_skipped,
            "skipped_by_kind": dict(sorted(self.skipped_by_kind.items())),
            "first_skipped": self.first_skipped,
            "nonfinite_as_missing": dict(sorted(self.nonfinite_as_missing.items())),
        }


def summarize(files: list[dict[str, Any]], max_reported: int) -> dict[str, Any]:
    """Totals over files, with the first skipped rows as ``file:line: reason`` strings."""
    kinds: Counter[str] = Counter()
    first: list[str] = []
    for f in files:
        kinds.update(f["skipped_by_kind"])
        first += [f"{f['path']}:{s['line']}: {s['reason']}" for s in f["first_skipped"]]
    return {
        "rows_read": sum(f["rows_read"] for f in files),
        "rows_kept": sum(f["rows_kept"] for f in files),
        "rows_skipped": sum(f["rows_skipped"] for f in files),
        "skipped_by_kind": dict(sorted(kinds.items())),
        "first_skipped": first[:max_reported],
    }
