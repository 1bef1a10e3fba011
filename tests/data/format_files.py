"""Helpers for the format tests: write raw files in the exact public formats, read them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from reaction.data.formats.splits import SplitConfig
from reaction.data.formats.table import TableFormat
from reaction.data.sources.files import FileSource

# Criteo Kaggle train.txt rows as documented (TAB-separated; empty = missing; trailing TABs when
# C25/C26 are empty). Row 1: I1 empty; row 2: I2 = -2, C22/C25/C26 empty.
CRITEO_ROW_1 = (
    "0\t\t7\t12\t3\t8210\t41\t2\t18\t63\t\t1\t\t5\t52e6b438\tf2a74de4\t269e0d37\t6513270e"
    "\ta6a3a450\t0c5c7fd0\t128b2f33\td23f0824\t892f902b\t1818e811\t5d9dc9f8\t9531985d"
    "\t0ed90475\te8e25d94\t81e74ef5\t36f675cc\t099950d8\t1600a35a\t6f03675a\t\t6b0d549b"
    "\t\t11e20b8f\t3d9c1724\t1738f7d9\t8d116ece"
)
CRITEO_ROW_2 = (
    "1\t5\t-2\t\t\t1\t\t\t\t\t\t\t\t\t05db9164\t2217bead\t4a23d596\t6b4cb242\t24ede6a4"
    "\t8a6a63ec\t1e27a1c0\t92276658\t4ef8aa38\t8f6d0558\td0eda82f\tae97ba94\t2e44158b"
    "\t1a61dbe2\t94e3bf91\t923a7369\ta38fd547\t301850c5\t5f557203\t18f135d2\t8c38fb29"
    "\t\tb64ce422\t1012f037\t\t"
)
NO_SPLIT = SplitConfig(val_fraction=0.0, test_fraction=0.0)  # every row -> train


def write_lines(path: Path, lines: list[str], newline: str = "\n", final: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = newline.join(lines) + (newline if final else "")
    path.write_bytes(text.encode())
    return path


def ingest(
    fmt: TableFormat,
    path: Path,
    root: Path,
    split: SplitConfig = NO_SPLIT,
    on_bad_rows: str = "skip",
    **kwargs: Any,
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Ingest ``path``; returns each split's rows and the ingest report."""
    source = FileSource(fmt, path, root, split=split, on_bad_rows=on_bad_rows, **kwargs)
    raw = source.prepare()
    frames = {s: pl.read_parquet(getattr(raw, s)[0]) for s in ("train", "val", "test")}
    return frames, source.input_report()


def skipped(report: dict[str, Any]) -> list[tuple[int, str]]:
    """(line, reason) of the reported skipped rows of the first file."""
    return [(s["line"], s["reason"]) for s in report["files"][0]["first_skipped"]]
