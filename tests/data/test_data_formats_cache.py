"""Cache safety of ingested raw files: fingerprints of inputs and settings, killed builds."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reaction.data.formats.avazu import avazu
from reaction.data.formats.bad_rows import BadInputError
from reaction.data.formats.criteo import criteo
from reaction.data.formats.ingest import IngestOptions, ingest_fingerprint
from reaction.data.formats.splits import SplitConfig, plan_files
from reaction.data.preprocess import PreprocessConfig, load_or_build
from reaction.data.sources.files import FileSource
from tests.data.format_files import CRITEO_ROW_1, CRITEO_ROW_2, write_lines


def criteo_rows(n: int, seed: int = 0) -> list[str]:
    """Random Criteo-format rows with missing values and repeated categories."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        ints = ["" if rng.random() < 0.2 else str(rng.integers(-2, 500)) for _ in range(13)]
        cats = ["" if rng.random() < 0.1 else f"{rng.integers(0, 40):08x}" for _ in range(26)]
        rows.append("\t".join([str(rng.integers(0, 2)), *ints, *cats]))
    return rows


DEFAULT_SPLIT = SplitConfig()


def fp(path: Path, split: SplitConfig = DEFAULT_SPLIT, policy: str = "error", **kw) -> str:
    options = IngestOptions(on_bad_rows=policy, **kw)  # type: ignore[arg-type]
    return ingest_fingerprint(criteo(), plan_files(path, split), options)


def test_fingerprint_tracks_content_and_settings(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train.txt", [CRITEO_ROW_1, CRITEO_ROW_2])
    base = fp(path)
    assert fp(path, chunk_bytes=10) == base  # chunking never changes the rows written
    assert fp(path, policy="skip") != base
    assert fp(path, SplitConfig(seed=1)) != base
    assert fp(path, SplitConfig(mode="sequential")) != base
    assert ingest_fingerprint(avazu(), plan_files(path, SplitConfig()), IngestOptions()) != base
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"52e6b438", b"52e6b439"))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime (cp -p)
    assert path.stat().st_size == stat.st_size and fp(path) != base


def test_cache_hit_does_not_rewrite(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_lines(tmp_path / "train.txt", criteo_rows(50))
    first = FileSource(criteo(), path, tmp_path / "ingest").prepare()
    mtimes = {p: p.stat().st_mtime_ns for p in first.train[0].parent.iterdir()}
    caplog.set_level(logging.INFO, logger="reaction.data.formats")
    second = FileSource(criteo(), path, tmp_path / "ingest").prepare()
    assert second == first and "ingesting" not in caplog.text
    assert {p: p.stat().st_mtime_ns for p in first.train[0].parent.iterdir()} == mtimes


def test_skip_cache_never_satisfies_error_policy(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train.txt", [CRITEO_ROW_1, "oops", CRITEO_ROW_2])
    raw = FileSource(criteo(), path, tmp_path / "ingest", on_bad_rows="skip").prepare()
    assert pl.read_parquet(raw.train[0]).height + pl.read_parquet(raw.test[0]).height <= 2
    with pytest.raises(BadInputError, match=r"train\.txt:2: 1 fields, expected 40"):
        FileSource(criteo(), path, tmp_path / "ingest", on_bad_rows="error").prepare()


def test_corrupted_ingest_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_lines(tmp_path / "train.txt", criteo_rows(200))
    raw = FileSource(criteo(), path, tmp_path / "ingest").prepare()
    before = pl.read_parquet(raw.train[0])
    raw.train[0].write_bytes(raw.train[0].read_bytes()[:-50])
    caplog.set_level(logging.INFO, logger="reaction.data")
    again = FileSource(criteo(), path, tmp_path / "ingest").prepare()
    assert "invalid" in caplog.text and "ingesting" in caplog.text
    assert pl.read_parquet(again.train[0]).equals(before)


BUILD = """
import sys
from pathlib import Path
from reaction.data.formats.criteo import criteo
from reaction.data.sources.files import FileSource
from reaction.data.preprocess import PreprocessConfig, load_or_build
path, root = Path(sys.argv[1]), Path(sys.argv[2])
raw = FileSource(criteo(), path, root / "ingest", chunk_bytes=int(sys.argv[3])).prepare()
load_or_build(raw, PreprocessConfig(min_count=2), root / "cache")
"""


def build(path: Path, root: Path) -> Path:
    raw = FileSource(criteo(), path, root / "ingest", chunk_bytes=1 << 20).prepare()
    return load_or_build(raw, PreprocessConfig(min_count=2), root / "cache").root


def test_killed_build_is_never_reused_and_rerun_matches(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train.txt", criteo_rows(20_000))
    root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", BUILD, str(path), str(root), "2048"])
    deadline = time.monotonic() + 60
    while not list(root.glob("ingest/.criteo-*/train.parquet")):  # the ingest is under way
        assert proc.poll() is None and time.monotonic() < deadline, "build ended before the kill"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list(root.glob("ingest/criteo-*")) and not (root / "cache").exists()
    resumed, fresh = build(path, root), build(path, tmp_path / "fresh")
    assert not list(root.glob("ingest/.criteo-*"))  # the dead builder's temp dir is gone
    for name in ("train.parquet", "val.parquet", "test.parquet", "vocab/C3.parquet"):
        assert pl.read_parquet(resumed / name).equals(pl.read_parquet(fresh / name)), name
    maps = [json.loads((r / "feature_map.json").read_text()) for r in (resumed, fresh)]
    for m in maps:
        m["extra"].pop("fingerprint")  # the fingerprint names the (different) input paths
    assert maps[0] == maps[1] and sum(maps[0]["extra"]["rows"].values()) == 20_000
