"""Which raw file feeds which split, and how the rows of a file that has no split are divided.

``data.path`` is a file or a folder:

* a folder with ``train.*``, ``valid.*`` (or ``val.*``) and ``test.*`` -- the published BARS
  split files, used as they are;
* a folder with ``day_0``, ``day_1``, ... (Criteo 1TB) -- every day but the last is training;
  the last day is halved in file order into validation and test (NVIDIA's DLRM preparation);
* a folder with only ``train.*`` (Criteo/Avazu Kaggle, whose ``test`` files carry no labels), or
  a single file -- its rows are split by :class:`SplitConfig`: ``random`` (seeded, by a hash of
  the line number, so the same line always lands in the same split) or ``sequential`` (file
  order = time order for Criteo and Avazu: the first rows train, the last test).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

SplitMode = Literal["random", "sequential"]
SPLIT_CODES = ("train", "val", "test")
_STEMS = {"train": ("train",), "val": ("valid", "val"), "test": ("test",)}
_IGNORED_SUFFIXES = {".md", ".md5", ".sha256", ".json", ".yaml", ".yml", ".log"}
_COMPRESSED_SUFFIXES = {".gz", ".zip", ".bz2", ".xz", ".7z", ".tar", ".zst"}
log = logging.getLogger(__name__)
_DAY = re.compile(r"^day_(\d+)$")


@dataclass(frozen=True)
class SplitConfig:
    """Row split of a file without published splits; fractions of all its data lines."""

    mode: SplitMode = "random"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("random", "sequential"):
            raise ValueError(f"split mode must be random|sequential, got {self.mode!r}")
        v, t = self.val_fraction, self.test_fraction
        if v < 0 or t < 0 or v + t > 1:
            raise ValueError(f"need val_fraction, test_fraction >= 0 and sum <= 1: {v}, {t}")


@dataclass(frozen=True)
class FilePlan:
    """One input file and its destination: a whole split, or rows divided by ``rows``."""

    path: Path
    split: str | None = None
    rows: SplitConfig | None = None

    def __post_init__(self) -> None:
        if (self.split is None) == (self.rows is None):
            raise ValueError(f"{self.path}: give exactly one of split and rows")

    def describe(self) -> str:
        if self.split is not None:
            return self.split
        r = self.rows
        return f"{r.mode} rows: val {r.val_fraction}, test {r.test_fraction}, seed {r.seed}"


def plan_files(path: Path, split: SplitConfig) -> list[FilePlan]:
    """The input files of ``path`` (a file or a folder) and where each one goes."""
    if path.is_file():
        if path.suffix in _COMPRESSED_SUFFIXES:
            raise ValueError(f"{path}: compressed input; decompress it first")
        return [FilePlan(path, rows=split)]
    if not path.is_dir():
        raise FileNotFoundError(f"data.path {path} does not exist")
    found = {name: _find(path, stems) for name, stems in _STEMS.items()}
    if all(found.values()):
        return [FilePlan(p, split=name) for name, p in found.items() if p is not None]
    days = _days(path)
    if days:
        halves = SplitConfig(mode="sequential", val_fraction=0.5, test_fraction=0.5)
        return [FilePlan(p, split="train") for p in days[:-1]] + [FilePlan(days[-1], rows=halves)]
    if found["train"] is not None:
        others = [p.name for name, p in found.items() if name != "train" and p is not None]
        if others:
            log.warning(
                "%s: no complete train/valid/test set; splitting train, ignoring %s", path, others
            )
        return [FilePlan(found["train"], rows=split)]
    raise FileNotFoundError(
        f"{path}: expected train/valid/test files, day_<n> files or a train file; "
        f"found {sorted(p.name for p in path.iterdir())}"
    )


def assign(lines: np.ndarray, plan: FilePlan, first_data_line: int, data_lines: int) -> np.ndarray:
    """Split code (index into ``SPLIT_CODES``) of each 1-based physical line number.

    ``first_data_line`` is 2 after a header; ``data_lines`` counts every data line of the file
    (bad ones too, so a skipped row never moves another row to a different split).
    """
    if plan.split is not None:
        return np.full(len(lines), SPLIT_CODES.index(plan.split), dtype=np.int8)
    rows = plan.rows
    assert rows is not None
    codes = np.zeros(len(lines), dtype=np.int8)
    if rows.mode == "random":
        u = _uniform(lines.astype(np.uint64), rows.seed)
        codes[u < rows.test_fraction + rows.val_fraction] = 1
        codes[u < rows.test_fraction] = 2
        return codes
    n_val = round(data_lines * rows.val_fraction)
    n_test = round(data_lines * rows.test_fraction)
    position = lines.astype(np.int64) - first_data_line
    codes[position >= data_lines - n_val - n_test] = 1
    codes[position >= data_lines - n_test] = 2
    return codes


def _uniform(x: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of (seed, line) -> uniform [0, 1): stable across versions and chunkings."""
    z = x + np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)  # array ops wrap mod 2^64
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def _find(folder: Path, stems: tuple[str, ...]) -> Path | None:
    """The one data file named ``<stem>`` or ``<stem>.<ext>``; checksums and notes ignored."""
    hits = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file()
        and any(p.name == s or p.name.startswith(f"{s}.") for s in stems)
        and p.suffix not in _IGNORED_SUFFIXES
    ]
    packed = [p for p in hits if p.suffix in _COMPRESSED_SUFFIXES]
    hits = [p for p in hits if p.suffix not in _COMPRESSED_SUFFIXES]
    if packed and not hits:
        raise ValueError(f"{packed[0]}: compressed input; decompress it first")
    if len(hits) > 1:
        raise ValueError(f"{folder}: several candidates for {stems[0]}: {[p.name for p in hits]}")
    return hits[0] if hits else None


def _days(folder: Path) -> list[Path]:
    days = {}
    for p in folder.iterdir():
        if p.is_file() and (m := _DAY.match(p.name)):
            days[int(m.group(1))] = p
    if len(days) == 1:
        raise ValueError(f"{folder}: one day_<n> file; need >= 2 (the last is val/test)")
    return [days[d] for d in sorted(days)]
