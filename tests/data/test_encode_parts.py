"""The encode stage in parts (value counts per part summed exactly, ids per part assembled) writes
byte for byte the cache of the one-process build, through a pool of processes or submitit jobs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reaction.data import preprocess, vocab
from reaction.data.datamodule import CTRDataModule
from reaction.data.encode_parts import WORK, encode_in_parts, plan_parts
from reaction.data.formats.criteo import criteo
from reaction.data.jobs import Jobs, PartFailedError
from reaction.data.preprocess import PreprocessConfig, RawSplits, load_or_build
from reaction.data.sources.files import FileSource
from tests.data.format_files import write_lines
from tests.data.test_data_formats_cache import criteo_rows

CHUNK = 4096  # bytes: several ingest row groups per file
# C1 values planted per day: "cafe0001" once in day 0 and once in day 2 (2 training rows in
# different parts: kept at min count 2 only if the parts' counts are summed), "cafe0002" once
# (cut by the min count), "cafe0003" only in day 3, the validation/test day (unseen: OOV)
PLANTED = {0: "cafe0001", 1: "cafe0002", 2: "cafe0001", 3: "cafe0003"}


def _days(folder: Path, days: int = 4) -> Path:
    """Criteo 1TB layout ``day_0 ..``: the last day is halved into val/test; one malformed line."""
    for day in range(days):
        rows = criteo_rows(150 + 40 * day, seed=day)
        fields = rows[10].split("\t")
        fields[14] = PLANTED[day]  # C1
        rows[10] = "\t".join(fields)
        if day == 1:
            rows[6] = "1\tnot-a-number" + "\t" * 38
        write_lines(folder / f"day_{day}", rows)
    return folder


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file of a cache, manifest and feature map included (the fingerprint does
    not depend on how the build ran)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def _ingested(tmp_path: Path, days: int = 4) -> RawSplits:
    folder = _days(tmp_path / "days", days)
    source = FileSource(
        criteo(), folder, tmp_path / "ingest", on_bad_rows="skip", chunk_bytes=CHUNK
    )
    return source.prepare()


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of ~64 rows: each split spans several batches, hence several parts."""
    monkeypatch.setattr(preprocess, "ENCODE_BATCH_ROWS", 64)


@pytest.mark.parametrize(("workers", "parts"), [(1, 2), (2, 2), (3, 3)])
@pytest.mark.usefixtures("small_batches")
def test_encode_in_parts_equals_one_process_build(tmp_path: Path, workers: int, parts: int) -> None:
    raw = _ingested(tmp_path)
    config = PreprocessConfig(min_count=2, row_group_rows=32)
    one = load_or_build(raw, config, tmp_path / "one")
    many = load_or_build(raw, config, tmp_path / "many", jobs=Jobs(workers, parts=parts))
    assert many.root.name == one.root.name and not (many.root / WORK).exists()
    assert _digests(many.root) == _digests(one.root)
    c1 = pl.read_parquet(one.vocab_path("C1"))
    assert c1.filter(pl.col("value") == "cafe0001")["count"].to_list() == [2]
    assert not c1["value"].is_in(["cafe0002", "cafe0003"]).any()
    assert all(p.batches["train"] for p in plan_parts(raw, 64, parts))  # train rows in every part


def _table(path: Path, rng: np.random.Generator, n: int, prefix: str, group: int = 50) -> Path:
    pl.DataFrame(
        {
            "click": rng.integers(0, 2, n).astype(np.int8),
            "I1": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(1, 2, n)),
            "C1": [f"{prefix}{v}" for v in rng.zipf(1.5, n)],
        }
    ).write_parquet(path, row_group_size=group)
    return path


@pytest.mark.parametrize("policy", ["log_square", "quantile"])
def test_a_part_without_training_rows_and_partitioned_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    """3 parts, 2 training batches: the last part has only validation and test rows; counts
    split into hash partitions in the parts and in the merge (a cap of 7 values per pass)."""
    monkeypatch.setattr(preprocess, "ENCODE_BATCH_ROWS", 50)
    monkeypatch.setattr(vocab, "MAX_VALUES_PER_PASS", 7)
    rng = np.random.default_rng(3)
    raw = RawSplits(
        train=(_table(tmp_path / "train.parquet", rng, 100, "v"),),
        val=(_table(tmp_path / "val.parquet", rng, 400, "v"),),
        test=(_table(tmp_path / "test.parquet", rng, 300, "w"),),  # values never seen in train
        labels=("click",),
        categorical=("C1",),
        numeric=("I1",),
        dataset="parts",
    )
    assert plan_parts(raw, 50, 3)[2].batches["train"] == ()
    config = PreprocessConfig(min_count=2, numeric_policy=policy, row_group_rows=40)
    one = load_or_build(raw, config, tmp_path / "one")
    many = load_or_build(raw, config, tmp_path / "many", jobs=Jobs(workers=2, parts=3))
    assert _digests(many.root) == _digests(one.root)


def test_a_failed_part_is_named_and_leaves_no_cache(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = _table(tmp_path / "good.parquet", rng, 100, "v")
    bad = tmp_path / "bad.parquet"
    pl.read_parquet(good).with_columns(pl.lit("abc").alias("I1")).write_parquet(bad)
    raw = RawSplits(
        train=(good, bad), val=(good,), test=(good,), labels=("click",),
        categorical=("C1",), numeric=("I1",), dataset="bad",
    )  # fmt: skip
    with pytest.raises(
        PartFailedError, match=r"encode part 2 of 2 \(train: bad.parquet rows 0..100;"
    ):
        load_or_build(raw, PreprocessConfig(), tmp_path / "cache", jobs=Jobs(workers=2))
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize(("part_cap", "merge_cap"), [(3, 50), (50, 3), (4, 4), (1000, 1000)])
def test_merged_counts_equal_the_counts_over_all_rows(
    tmp_path: Path, part_cap: int, merge_cap: int
) -> None:
    """Parts partitioned finer or coarser than the merge (powers of two that nest)."""
    rng = np.random.default_rng(5)
    values = pl.DataFrame({"C": [f"v{v}" for v in rng.zipf(1.3, 600)]})
    expected = vocab.order_vocab(vocab.count_values(values.lazy(), "C", 2, 1))
    files = []
    for k, chunk in enumerate(values.iter_slices(200)):
        passes = vocab.passes_for(chunk["C"].n_unique(), part_cap)
        for i, piece in enumerate(vocab.count_values(chunk.lazy(), "C", 1, passes)):
            piece.write_parquet(tmp_path / f"{k}-{i}.parquet")
            files.append(vocab.CountFile(tmp_path / f"{k}-{i}.parquet", piece.height, i, passes))
    assert vocab.order_vocab(vocab.merge_counts(files, 2, merge_cap)).equals(expected)
    assert [vocab.passes_for(n, 10) for n in (0, 10, 11, 30, 31)] == [1, 1, 2, 4, 4]


@pytest.mark.usefixtures("small_batches")
def test_submitit_jobs_per_file_equal_one_process_build(tmp_path: Path) -> None:
    """The whole path through submitit (``cluster: local`` runs each job as its own process,
    pickled as on SLURM): one ingest job per file and a merge job, then the encode in one part
    per file (counts, merges, ids) and an assembly job."""
    raw = _ingested(tmp_path, days=2)
    config = PreprocessConfig(min_count=2, row_group_rows=32)
    one = load_or_build(raw, config, tmp_path / "one")
    slurm = {"cluster": "local", "folder": str(tmp_path / "logs"), "timeout_min": 5}
    source = FileSource(
        criteo(), tmp_path / "days", tmp_path / "ingest_jobs", on_bad_rows="skip",
        chunk_bytes=CHUNK, slurm=slurm,
    )  # fmt: skip
    raw_jobs = source.prepare()
    assert source.jobs.num_parts == 2
    many = load_or_build(raw_jobs, config, tmp_path / "many", jobs=source.jobs)
    assert len(list((tmp_path / "logs").glob("*_result.pkl"))) == (2 + 1) + (2 + 2 + 2 + 1)
    skip = {"manifest.json", "feature_map.json"}  # the fingerprint hashes the ingest paths
    digests = {k: v for k, v in _digests(many.root).items() if k not in skip}
    assert digests == {k: v for k, v in _digests(one.root).items() if k not in skip}


@pytest.mark.usefixtures("small_batches")
def test_datamodule_encodes_in_parts_with_preprocess_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``data.preprocess_workers`` reaches the encode stage through ``CTRDataModule``."""
    parts = []

    def spy(*args: object) -> list[pl.DataFrame]:
        parts.append(args[5].num_parts)  # the Jobs
        return encode_in_parts(*args)

    monkeypatch.setattr(preprocess, "encode_in_parts", spy)
    folder = _days(tmp_path / "days", days=3)
    source = FileSource(
        criteo(), folder, tmp_path / "ingest", on_bad_rows="skip", chunk_bytes=CHUNK, workers=2
    )
    config = PreprocessConfig(min_count=2, row_group_rows=32)
    dm = CTRDataModule(raw_source=source, preprocess=config, cache_root=str(tmp_path / "cache"))
    dm.prepare_data()
    assert parts == [2]
    one = load_or_build(source.prepare(), config, tmp_path / "one")
    assert _digests(dm.data.root) == _digests(one.root)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "data.preprocess_workers must be >= 1, got 0"),
        ({"workers": 1.5}, "data.preprocess_workers must be >= 1, got 1.5"),
        ({"slurm": "local"}, "data.preprocess_slurm must be null or a mapping"),
        ({"parts": 0}, "encode parts must be >= 1, got 0"),
    ],
)
def test_bad_job_settings_name_their_key(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Jobs(**kwargs)
