"""A folder of raw files ingested one file per process or per submitit job, then merged, gives
byte for byte the files of the one-process build, and the same preprocessing cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reaction.data.formats.bad_rows import BadInputError
from reaction.data.formats.criteo import criteo
from reaction.data.preprocess import PreprocessConfig, RawSplits, load_or_build
from reaction.data.sources.files import FileSource
from tests.data.format_files import write_lines
from tests.data.test_data_formats_cache import criteo_rows

DAYS = 4
CHUNK = 4096  # bytes: several chunks, hence row groups, per file


def _days(folder: Path, bad: dict[int, int] | None = None) -> Path:
    """Criteo 1TB layout: ``day_0 .. day_3`` (the last one is halved into val/test); ``bad``
    maps a day to the 1-based line replaced by a malformed one."""
    for day in range(DAYS):
        rows = criteo_rows(150 + 40 * day, seed=day)
        if bad and day in bad:
            rows[bad[day] - 1] = "1\tnot-a-number" + "\t" * 38
        write_lines(folder / f"day_{day}", rows)
    return folder


def _digests(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json")
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def _ingest(folder: Path, root: Path, **kwargs: object) -> tuple[RawSplits, dict]:
    source = FileSource(criteo(), folder, root, on_bad_rows="skip", chunk_bytes=CHUNK, **kwargs)
    raw = source.prepare()
    report = {k: v for k, v in source.input_report().items() if k != "seconds"}
    return raw, report


def _check_same(one: tuple[RawSplits, dict], many: tuple[RawSplits, dict], tmp: Path) -> None:
    (raw_one, report_one), (raw_many, report_many) = one, many
    assert report_many == report_one and report_one["rows_skipped"] == 2
    assert report_one["rows"]["val"] > 0 and report_one["rows"]["test"] > 0
    for split in ("train", "val", "test"):
        a, b = getattr(raw_one, split)[0], getattr(raw_many, split)[0]
        assert a.read_bytes() == b.read_bytes(), split
    config = PreprocessConfig(min_count=2)
    built_one = load_or_build(raw_one, config, tmp / "cache_one")
    built_many = load_or_build(raw_many, config, tmp / "cache_many")
    skip = {"feature_map.json"}  # it holds the fingerprint, which hashes the input paths
    digests_one = {k: v for k, v in _digests(built_one.root).items() if k not in skip}
    assert digests_one == {k: v for k, v in _digests(built_many.root).items() if k not in skip}
    fm_one = json.loads((built_one.root / "feature_map.json").read_text())
    fm_many = json.loads((built_many.root / "feature_map.json").read_text())
    fm_one["extra"].pop("fingerprint"), fm_many["extra"].pop("fingerprint")
    assert fm_one == fm_many


def test_process_pool_ingest_equals_one_process_build(tmp_path: Path) -> None:
    folder = _days(tmp_path / "days", bad={1: 7, 2: 3})
    one = _ingest(folder, tmp_path / "one")
    many = _ingest(folder, tmp_path / "many", workers=3)
    assert not list((tmp_path / "many").rglob(".parts"))
    _check_same(one, many, tmp_path)


def test_submitit_jobs_per_file_then_merge_equal_one_process_build(tmp_path: Path) -> None:
    """``cluster: local`` runs each job as its own process, pickled as on SLURM."""
    folder = _days(tmp_path / "days", bad={1: 7, 2: 3})
    one = _ingest(folder, tmp_path / "one")
    slurm = {"cluster": "local", "folder": str(tmp_path / "logs"), "timeout_min": 5}
    many = _ingest(folder, tmp_path / "many", slurm=slurm)
    assert len(list((tmp_path / "logs").glob("*_result.pkl"))) == DAYS + 1  # files + merge
    _check_same(one, many, tmp_path)


def test_first_bad_row_in_file_order_is_the_error_with_many_processes(tmp_path: Path) -> None:
    folder = _days(tmp_path / "days", bad={1: 7, 2: 3})
    for workers in (1, 3):
        source = FileSource(criteo(), folder, tmp_path / f"w{workers}", workers=workers)
        with pytest.raises(BadInputError) as err:
            source.prepare()
        assert (err.value.path.name, err.value.line) == ("day_1", 7)
        assert "is not a number" in str(err.value)
    assert not list((tmp_path / "w3").glob("criteo-*"))  # a failed build leaves no cache


def test_workers_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="preprocess_workers must be >= 1, got 0"):
        FileSource(criteo(), tmp_path, tmp_path / "ingest", workers=0)
