"""The encode stage's memory bounds change nothing in its output: partitioned vocabulary counts
and batched encoding give exactly what a one-pass build gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from reaction.data import preprocess, vocab
from reaction.data.preprocess import PreprocessConfig, RawSplits, load_or_build


@pytest.fixture
def raw(tmp_path: Path) -> RawSplits:
    rng = np.random.default_rng(1)

    def split(name: str, n: int) -> Path:
        path = tmp_path / f"{name}.parquet"
        pl.DataFrame(
            {
                "click": rng.integers(0, 2, n).astype(np.int8),
                "I1": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(1, 2, n)),
                "C1": [f"v{v}" for v in rng.zipf(1.3, n)],
                "C2": [f"w{v}" for v in rng.integers(0, 50, n)],
            }
        ).write_parquet(path, row_group_size=333)
        return path

    return RawSplits(
        train=(split("train", 2000),),
        val=(split("val", 300),),
        test=(split("test", 300),),
        labels=("click",),
        categorical=("C1", "C2"),
        numeric=("I1",),
        dataset="bounded",
    )


def same_build(a: Path, b: Path) -> None:
    for name in ("train", "val", "test"):
        assert pl.read_parquet(a / f"{name}.parquet").equals(pl.read_parquet(b / f"{name}.parquet"))
    for field in ("I1", "C1", "C2"):
        va, vb = (pl.read_parquet(r / "vocab" / f"{field}.parquet") for r in (a, b))
        assert va.equals(vb), field


@pytest.mark.parametrize("policy", ["log_square", "quantile"])
def test_partitioned_and_batched_build_equals_one_pass(
    raw: RawSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    config = PreprocessConfig(min_count=2, numeric_policy=policy, row_group_rows=64)
    reference = load_or_build(raw, config, tmp_path / "one_pass").root
    monkeypatch.setattr(vocab, "MAX_VALUES_PER_PASS", 7)  # C1: dozens of partitions
    monkeypatch.setattr(preprocess, "ENCODE_BATCH_ROWS", 50)  # batches smaller than groups
    bounded = load_or_build(raw, config, tmp_path / "bounded").root
    same_build(reference, bounded)
    meta = pq.ParquetFile(bounded / "train.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [64] * 31 + [16]  # 2000 rows: exact row groups whatever the batch size


def test_empty_split_is_written_with_the_schema(raw: RawSplits, tmp_path: Path) -> None:
    pl.read_parquet(raw.test[0]).head(0).write_parquet(raw.test[0])
    data = load_or_build(raw, PreprocessConfig(), tmp_path / "cache")
    test = pl.read_parquet(data.split_path("test"))
    assert test.height == 0 and test.schema == pl.read_parquet(data.split_path("val")).schema
