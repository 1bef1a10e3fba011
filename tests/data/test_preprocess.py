"""Preprocessing: train-only vocabularies, numeric bucketing, determinism, the validated cache."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reaction.data import preprocess
from reaction.data.cache import MANIFEST, fingerprint
from reaction.data.encoding import bucket_numeric
from reaction.data.preprocess import PreprocessConfig, RawSplits, load_cached, load_or_build
from reaction.data.schema import MISSING_ID, OOV_ID

NAN, INF = float("nan"), float("inf")


def write_raw(path: Path, click: list[int], i1: list[float | None], c1: list[str | None]) -> Path:
    """A raw split in the generator's shape: click int8, I* Float64, C* Utf8 (all nullable)."""
    pl.DataFrame(
        {
            "click": pl.Series(click, dtype=pl.Int8),
            "I1": pl.Series(i1, dtype=pl.Float64),
            "C1": pl.Series(c1, dtype=pl.Utf8),
        }
    ).write_parquet(path)
    return path


def raw_splits(train: Path, val: Path, test: Path) -> RawSplits:
    return RawSplits(
        train=(train,),
        val=(val,),
        test=(test,),
        labels=("click",),
        categorical=("C1",),
        numeric=("I1",),
        dataset="toy",
    )


@pytest.fixture
def hand_raw(tmp_path: Path) -> RawSplits:
    """Hand-made splits: C1 counts in train c:4 a:2 b:1; d only in val/test."""
    train = write_raw(
        tmp_path / "train.parquet",
        [0, 1, 0, 1, 0, 1, 0, 1],
        [3.0, 3.0, NAN, INF, -INF, None, 100.0, 100.0],
        ["a", "a", "b", "c", "c", "c", None, "c"],
    )
    val = write_raw(
        tmp_path / "val.parquet", [1, 0, 0, 1], [3.0, 50.0, NAN, None], ["a", "b", "d", None]
    )
    test = write_raw(tmp_path / "test.parquet", [0, 1], [100.0, INF], ["c", "d"])
    return raw_splits(train, val, test)


@pytest.fixture
def random_raw(tmp_path: Path) -> RawSplits:
    """A few thousand random rows with nulls, rare values and values unseen in training."""
    rng = np.random.default_rng(0)

    def split(name: str, n: int, offset: int) -> Path:
        i1 = [None if rng.random() < 0.1 else float(v) for v in rng.normal(3, 20, n)]
        c1 = [None if rng.random() < 0.1 else f"v{v + offset}" for v in rng.zipf(1.5, n)]
        return write_raw(tmp_path / f"{name}.parquet", list(rng.integers(0, 2, n)), i1, c1)

    return raw_splits(split("train", 3000, 0), split("val", 500, 3), split("test", 500, 0))


def read(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def test_vocab_is_fitted_on_train_only(hand_raw: RawSplits, tmp_path: Path) -> None:
    data = load_or_build(hand_raw, PreprocessConfig(min_count=2), tmp_path / "cache")
    # ids by descending training count: c -> 2, a -> 3; b (count 1) and d (val/test only) -> OOV
    assert read(data.split_path("train"))["C1"].to_list() == [3, 3, OOV_ID, 2, 2, 2, MISSING_ID, 2]
    assert read(data.split_path("val"))["C1"].to_list() == [3, OOV_ID, OOV_ID, MISSING_ID]
    assert read(data.split_path("test"))["C1"].to_list() == [2, OOV_ID]
    vocab = read(data.vocab_path("C1"))
    assert vocab.rows() == [("c", 2, 4), ("a", 3, 2)]


def test_numeric_missing_and_buckets(hand_raw: RawSplits, tmp_path: Path) -> None:
    data = load_or_build(hand_raw, PreprocessConfig(min_count=2), tmp_path / "cache")
    # 3.0 -> bucket 1 (x2), 100.0 -> bucket 21 (x2); NaN, +-inf, null -> missing
    vocab = dict(read(data.vocab_path("I1")).select("value", "id").iter_rows())
    assert set(vocab) == {1, 21}
    bucket_values = data.feature_map.extra["numeric"]["bucket_values"]
    assert set(bucket_values) == {"I1"}  # numeric fields only
    assert {v: i for i, v in enumerate(bucket_values["I1"], start=2)} == vocab  # id order
    assert (
        read(data.split_path("train"))["I1"].to_list()
        == [vocab[1]] * 2 + [MISSING_ID] * 4 + [vocab[21]] * 2
    )
    # 50.0 -> floor(ln(50)^2) = 15, unseen in train -> OOV
    assert read(data.split_path("val"))["I1"].to_list() == [
        vocab[1],
        OOV_ID,
        MISSING_ID,
        MISSING_ID,
    ]


def test_feature_map(hand_raw: RawSplits, tmp_path: Path) -> None:
    data = load_or_build(hand_raw, PreprocessConfig(min_count=2), tmp_path / "cache")
    fm = data.feature_map
    assert fm.field_names == ["I1", "C1"] and fm.labels == ("click",) and fm.dataset == "toy"
    assert [f.kind for f in fm.fields] == ["numeric", "categorical"]
    assert fm.vocab_sizes == [2 + 2, 2 + 2]
    assert {s: data.num_rows(s) for s in ("train", "val", "test")} == {
        "train": 8,
        "val": 4,
        "test": 2,
    }
    assert fm.extra["fingerprint"] == fingerprint(hand_raw, PreprocessConfig(min_count=2))
    schema = read(data.split_path("val")).schema
    assert schema == pl.Schema({"I1": pl.Int32, "C1": pl.Int32, "click": pl.Float32})


def log_square_reference(x: float) -> int | None:
    if not math.isfinite(x):
        return None
    return math.floor(math.log(x) ** 2) if x > 2 else int(x)


def test_log_square_hand_values() -> None:
    xs = [0.0, 0.5, 1.0, 1.99, 2.0, 2.5, 3.0, 100.0, 1e6, -0.5, -1.5, -3.0, NAN, INF, -INF, None]
    got = pl.select(
        bucket_numeric(pl.lit(pl.Series(xs, dtype=pl.Float64)), "log_square")
    ).to_series()
    expected = [0, 0, 1, 1, 2, 0, 1, 21, 190, 0, -1, -3, None, None, None, None]
    assert got.to_list() == expected
    assert expected[:-1] == [log_square_reference(x) for x in xs[:-1]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), min_size=1))
def test_log_square_matches_formula(xs: list[float]) -> None:
    got = pl.select(
        bucket_numeric(pl.lit(pl.Series(xs, dtype=pl.Float64)), "log_square")
    ).to_series()
    assert got.to_list() == [log_square_reference(x) for x in xs]


def test_quantile_buckets_are_monotone(random_raw: RawSplits, tmp_path: Path) -> None:
    config = PreprocessConfig(min_count=1, numeric_policy="quantile", num_quantiles=8)
    data = load_or_build(random_raw, config, tmp_path / "cache")
    edges = data.feature_map.extra["numeric"]["quantile_edges"]["I1"]
    assert len(edges) <= 7 and edges == sorted(edges)
    vocab = read(data.vocab_path("I1"))
    id_to_value = dict(zip(vocab["id"].to_list(), vocab["value"].to_list(), strict=True))
    for split in ("train", "val"):
        raw = read(getattr(random_raw, split)[0])["I1"].to_numpy()
        ids = read(data.split_path(split))["I1"].to_numpy()
        present = ~np.isnan(raw)
        assert (ids[~present] == MISSING_ID).all()
        order = np.argsort(raw[present], kind="stable")
        buckets = np.array([id_to_value[i] for i in ids[present][order]])
        assert (np.diff(buckets) >= 0).all()
    assert set(vocab["value"].to_list()) == set(range(len(edges) + 1))


def test_build_is_deterministic(random_raw: RawSplits, tmp_path: Path) -> None:
    a = load_or_build(random_raw, PreprocessConfig(), tmp_path / "a")
    b = load_or_build(random_raw, PreprocessConfig(), tmp_path / "b")
    for split in ("train", "val", "test"):
        assert read(a.split_path(split)).equals(read(b.split_path(split)))
    for field in a.feature_map.field_names:
        assert read(a.vocab_path(field)).equals(read(b.vocab_path(field)))
    assert a.feature_map == b.feature_map
    train = read(a.split_path("train"))
    for spec in a.feature_map.fields:  # ids stay inside the declared vocabulary
        assert train[spec.name].min() >= 0 and train[spec.name].max() < spec.vocab_size


def test_row_groups_follow_config(random_raw: RawSplits, tmp_path: Path) -> None:
    data = load_or_build(random_raw, PreprocessConfig(row_group_rows=1000), tmp_path / "cache")
    meta = pq.ParquetFile(data.split_path("train")).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000] * 3


def test_cache_hit_does_not_rebuild(
    random_raw: RawSplits, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reaction.data.preprocess")
    first = load_or_build(random_raw, PreprocessConfig(), tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in first.root.rglob("*")}
    caplog.clear()
    second = load_or_build(random_raw, PreprocessConfig(), tmp_path)
    assert second.root == first.root and second.feature_map == first.feature_map
    assert {p: p.stat().st_mtime_ns for p in second.root.rglob("*")} == mtimes
    assert "cache hit" in caplog.text and "building" not in caplog.text
    assert load_cached(random_raw, PreprocessConfig(), tmp_path).root == first.root


def test_fingerprint_tracks_config_and_input(random_raw: RawSplits) -> None:
    base = fingerprint(random_raw, PreprocessConfig())
    assert fingerprint(random_raw, PreprocessConfig()) == base
    assert fingerprint(random_raw, PreprocessConfig(min_count=3)) != base
    assert fingerprint(random_raw, PreprocessConfig(numeric_policy="quantile")) != base
    assert fingerprint(random_raw, PreprocessConfig(row_group_rows=10)) != base
    assert (
        fingerprint(replace(random_raw, categorical=(), numeric=("I1", "C1")), PreprocessConfig())
        != base
    )
    val = random_raw.val[0]
    write_raw(val, [1], [1.0], ["x"])
    assert fingerprint(random_raw, PreprocessConfig()) != base


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def garbage_same_size(path: Path) -> None:
    path.write_bytes(b"\x00" * path.stat().st_size)


def set_manifest_fingerprint(path: Path) -> None:
    manifest = json.loads(path.read_text())
    manifest["fingerprint"] = "0" * 64
    path.write_text(json.dumps(manifest))


CORRUPTIONS = {
    "truncated_parquet": ("train.parquet", truncate),
    "garbage_parquet": ("val.parquet", garbage_same_size),
    "missing_manifest": (MANIFEST, Path.unlink),
    "wrong_fingerprint": (MANIFEST, set_manifest_fingerprint),
    "missing_vocab": ("vocab/C1.parquet", Path.unlink),
    "missing_feature_map": ("feature_map.json", Path.unlink),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupted_cache_is_rebuilt(
    corruption: str, random_raw: RawSplits, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = PreprocessConfig(row_group_rows=700)
    data = load_or_build(random_raw, config, tmp_path / "cache")
    rel, corrupt = CORRUPTIONS[corruption]
    corrupt(data.root / rel)
    with pytest.raises(FileNotFoundError):
        load_cached(random_raw, config, tmp_path / "cache")
    caplog.set_level(logging.INFO, logger="reaction.data.preprocess")
    rebuilt = load_or_build(random_raw, config, tmp_path / "cache")
    assert "invalid" in caplog.text and "building" in caplog.text
    assert_same_build(rebuilt.root, load_or_build(random_raw, config, tmp_path / "fresh").root)


def assert_same_build(a: Path, b: Path) -> None:
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*.parquet"))
    assert names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*.parquet"))
    for name in names:
        assert read(a / name).equals(read(b / name)), name
    assert json.loads((a / "feature_map.json").read_text()) == json.loads(
        (b / "feature_map.json").read_text()
    )


def test_same_size_edit_is_caught_by_hash(random_raw: RawSplits, tmp_path: Path) -> None:
    data = load_or_build(random_raw, PreprocessConfig(), tmp_path)
    path = data.split_path("train")
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF  # inside a data page: footer and row count stay valid
    path.write_bytes(bytes(raw))
    assert load_cached(random_raw, PreprocessConfig(), tmp_path).root == data.root
    with pytest.raises(FileNotFoundError, match="sha256"):
        load_cached(random_raw, PreprocessConfig(), tmp_path, verify_hash=True)
    rebuilt = load_or_build(random_raw, PreprocessConfig(), tmp_path, verify_hash=True)
    assert rebuilt.split_path("train").read_bytes() != bytes(raw)


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    return int(proc.stdout)


def test_stale_temp_dir_is_never_trusted(random_raw: RawSplits, tmp_path: Path) -> None:
    config = PreprocessConfig()
    name = f"toy-{fingerprint(random_raw, config)[:16]}"
    stale = tmp_path / f".{name}.tmp-{socket.gethostname()}-{dead_pid()}-dead"
    stale.mkdir()
    (stale / "train.parquet").write_bytes(b"half written")
    live = tmp_path / f".{name}.tmp-{socket.gethostname()}-{os.getpid()}-live"
    live.mkdir()  # a concurrent build in a running process must be left alone
    data = load_or_build(random_raw, config, tmp_path)
    assert not stale.exists() and live.exists()
    assert data.root == tmp_path / name and data.num_rows("train") == 3000


def test_missing_column_names_file_and_column(hand_raw: RawSplits, tmp_path: Path) -> None:
    pl.read_parquet(hand_raw.val[0]).drop("C1").write_parquet(hand_raw.val[0])
    with pytest.raises(ValueError, match=r"val\.parquet.*'C1'"):
        load_or_build(hand_raw, PreprocessConfig(), tmp_path / "cache")


def test_empty_train_split_names_file(hand_raw: RawSplits, tmp_path: Path) -> None:
    pl.read_parquet(hand_raw.train[0]).head(0).write_parquet(hand_raw.train[0])
    with pytest.raises(ValueError, match=r"train\.parquet"):
        load_or_build(hand_raw, PreprocessConfig(), tmp_path / "cache")


def test_multiple_files_per_split(random_raw: RawSplits, tmp_path: Path) -> None:
    """Two train files give the same result as their concatenation in one file."""
    frame = read(random_raw.train[0])
    frame.head(1000).write_parquet(tmp_path / "t1.parquet")
    frame.tail(2000).write_parquet(tmp_path / "t2.parquet")
    split = replace(random_raw, train=(tmp_path / "t1.parquet", tmp_path / "t2.parquet"))
    a = load_or_build(split, PreprocessConfig(), tmp_path / "a")
    b = load_or_build(random_raw, PreprocessConfig(), tmp_path / "b")
    for name in ("train", "val", "test"):
        assert read(a.split_path(name)).equals(read(b.split_path(name)))


def test_lost_build_race_uses_the_winner(
    random_raw: RawSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process renames a finished cache into place while this one is still building."""
    config = PreprocessConfig()
    winner = load_or_build(random_raw, config, tmp_path / "elsewhere").root
    final = tmp_path / "cache" / winner.name
    original = preprocess._build

    def build_then_lose(*args: object) -> None:
        original(*args)
        shutil.copytree(winner, final)

    monkeypatch.setattr(preprocess, "_build", build_then_lose)
    data = load_or_build(random_raw, config, tmp_path / "cache")
    assert data.root == final and load_cached(random_raw, config, tmp_path / "cache").root == final
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [final.name]  # temp dir removed


def test_null_label_is_rejected(hand_raw: RawSplits, tmp_path: Path) -> None:
    write_raw(hand_raw.test[0], [1, 0], [1.0, 2.0], ["a", "b"])
    frame = pl.read_parquet(hand_raw.test[0]).with_columns(pl.lit(None, pl.Int8).alias("click"))
    frame.write_parquet(hand_raw.test[0])
    with pytest.raises(ValueError, match="test split: label 'click' has null"):
        load_or_build(hand_raw, PreprocessConfig(), tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-built is left behind


def test_integer_categoricals_match_their_strings(hand_raw: RawSplits, tmp_path: Path) -> None:
    as_ints = replace(hand_raw, dataset="ints")
    for path in as_ints.train + as_ints.val + as_ints.test:
        codes = pl.col("C1").replace_strict(["a", "b", "c", "d"], [10, 11, 12, 13], default=None)
        pl.read_parquet(path).with_columns(codes.cast(pl.Int64)).write_parquet(path)
    ints = load_or_build(as_ints, PreprocessConfig(), tmp_path / "ints")
    assert read(ints.split_path("val"))["C1"].to_list() == [3, OOV_ID, OOV_ID, MISSING_ID]
    assert read(ints.vocab_path("C1"))["value"].to_list() == ["12", "10"]
