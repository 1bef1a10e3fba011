"""Streaming: every row exactly once per epoch across ranks x workers, shuffling, the datamodule."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import lightning as L
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from reaction.callbacks.stream_epoch import StreamEpochCallback
from reaction.data.batch import Batch
from reaction.data.datamodule import CTRDataModule
from reaction.data.preprocess import PreprocessConfig, RawSplits
from reaction.data.stream import ParquetBatchStream, shard_range

# (rows, row-group size) per file: 15 groups of 100, 3 of 700, 6 of 250 with a 153-row tail
FILES = [(1500, 100), (2100, 700), (1403, 250)]
NUM_ROWS = sum(n for n, _ in FILES)
BATCH = 64


def make_stream(paths: list[Path], **overrides: object) -> ParquetBatchStream:
    args: dict[str, object] = {
        "paths": paths,
        "feature_columns": ["rid", "f1"],
        "label_columns": ["click"],
        "batch_size": BATCH,
        "shuffle": False,
    }
    args.update(overrides)
    return ParquetBatchStream(**args)


def epoch_batches(stream: ParquetBatchStream, num_workers: int = 0) -> list[Batch]:
    return list(DataLoader(stream, batch_size=None, num_workers=num_workers))


def row_ids(batches: list[Batch]) -> np.ndarray:
    return np.concatenate([b.features[:, 0].numpy() for b in batches])


def expected_batch_sizes(num_rows: int, world_size: int, num_workers: int) -> list[int]:
    sizes = []
    for rank in range(world_size):
        for worker in range(num_workers):
            n = len(shard_range(num_rows, rank, world_size, worker, num_workers))
            sizes += [BATCH] * (n // BATCH) + ([n % BATCH] if n % BATCH else [])
    return sorted(sizes)


@given(
    num_rows=st.integers(0, 10_000),
    world_size=st.integers(1, 8),
    num_workers=st.integers(1, 6),
)
def test_shard_ranges_partition_rows(num_rows: int, world_size: int, num_workers: int) -> None:
    ranges = [
        shard_range(num_rows, r, world_size, w, num_workers)
        for r in range(world_size)
        for w in range(num_workers)
    ]
    assert ranges[0].start == 0 and ranges[-1].stop == num_rows
    assert all(a.stop == b.start for a, b in zip(ranges, ranges[1:], strict=False))
    per_rank = [
        sum(map(len, ranges[r * num_workers : (r + 1) * num_workers])) for r in range(world_size)
    ]
    assert max(per_rank) - min(per_rank) <= 1


def test_unshuffled_preserves_order_and_columns(shards: list[Path]) -> None:
    batches = epoch_batches(make_stream(shards))
    assert [len(b) for b in batches] == expected_batch_sizes(NUM_ROWS, 1, 1)[::-1]
    np.testing.assert_array_equal(row_ids(batches), np.arange(NUM_ROWS))
    first = batches[0]
    assert first.features.dtype == torch.int64 and first.features.shape == (BATCH, 2)
    assert first.labels.dtype == torch.float32 and first.labels.shape == (BATCH, 1)


@pytest.mark.parametrize("shuffle", [False, True], ids=["ordered", "shuffled"])
@pytest.mark.parametrize(("world_size", "num_workers"), [(1, 2), (2, 1), (2, 2)])
def test_every_row_once_per_epoch(
    shards: list[Path], world_size: int, num_workers: int, shuffle: bool
) -> None:
    batches = []
    for rank in range(world_size):
        stream = make_stream(shards, shuffle=shuffle, rank=rank, world_size=world_size)
        batches += epoch_batches(stream, num_workers)
    counts = Counter(row_ids(batches).tolist())
    assert len(counts) == NUM_ROWS and set(counts.values()) == {1}
    assert sorted(len(b) for b in batches) == expected_batch_sizes(
        NUM_ROWS, world_size, num_workers
    )
    for batch in batches:  # rows stay whole through shuffling
        rid = batch.features[:, 0]
        assert torch.equal(batch.features[:, 1], rid * 7 % 1000)
        assert torch.equal(batch.labels[:, 0], (rid % 2).float())


def test_shuffle_changes_with_epoch_and_is_deterministic(shards: list[Path]) -> None:
    stream = make_stream(shards, shuffle=True, seed=3)
    orders = []
    for epoch in (0, 1, 0):
        stream.set_epoch(epoch)
        orders.append(row_ids(epoch_batches(stream)))
    np.testing.assert_array_equal(orders[0], orders[2])
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], np.arange(NUM_ROWS))
    assert sorted(orders[1].tolist()) == list(range(NUM_ROWS))
    other_seed = make_stream(shards, shuffle=True, seed=4)
    assert not np.array_equal(row_ids(epoch_batches(other_seed)), orders[0])


def test_shuffle_mixes_row_groups_within_a_buffer(shards: list[Path]) -> None:
    stream = make_stream(shards[:1], shuffle=True, shuffle_buffer_row_groups=4)
    first = row_ids(epoch_batches(stream)[:1])
    assert len(set((first // 100).tolist())) > 1  # one batch draws from several 100-row groups


def test_more_shards_than_rows(tmp_path: Path) -> None:
    pq.write_table(pa.table({"rid": np.arange(3, dtype=np.int32)}), tmp_path / "tiny.parquet")
    rows = []
    for rank in range(2):
        stream = ParquetBatchStream(
            [tmp_path / "tiny.parquet"], ["rid"], [], 2, True, rank=rank, world_size=2
        )
        rows += row_ids(epoch_batches(stream, num_workers=2)).tolist()
    assert sorted(rows) == [0, 1, 2]


def test_bad_arguments(shards: list[Path]) -> None:
    with pytest.raises(ValueError, match="missing columns"):
        make_stream(shards, feature_columns=["rid", "nope"])
    with pytest.raises(ValueError, match="rank 2"):
        make_stream(shards, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        make_stream(shards, batch_size=0)


class UniqueRowSource:
    """A raw source whose categorical ``rid`` is unique per row, so each id names one row."""

    def __init__(self, root: Path, rows: int) -> None:
        self.root, self.rows = root, rows

    def prepare(self) -> RawSplits:
        for split, n in (("train", self.rows), ("val", 50), ("test", 50)):
            path = self.root / f"{split}.parquet"
            if not path.exists():
                frame = pl.DataFrame(
                    {
                        "click": pl.Series([i % 2 for i in range(n)], dtype=pl.Int8),
                        "I1": pl.Series([float(i % 13) for i in range(n)], dtype=pl.Float64),
                        "rid": pl.Series([f"{split}{i}" for i in range(n)], dtype=pl.Utf8),
                    }
                )
                frame.write_parquet(path)
        return RawSplits(
            train=(self.root / "train.parquet",),
            val=(self.root / "val.parquet",),
            test=(self.root / "test.parquet",),
            labels=("click",),
            categorical=("rid",),
            numeric=("I1",),
            dataset="unique",
        )


class RecordingModule(L.LightningModule):
    """Remembers the training row ids of each epoch."""

    def __init__(self, rid_column: int) -> None:
        super().__init__()
        self.rid_column = rid_column
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[list[int]] = []

    def on_train_epoch_start(self) -> None:
        self.seen.append([])

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        self.seen[-1] += batch.features[:, self.rid_column].tolist()
        return ((self.weight - batch.labels) ** 2).mean()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        assert batch.features.shape[1] == 2

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit_two_epochs(
    tmp_path: Path, num_workers: int, callbacks: list[L.Callback]
) -> list[list[int]]:
    datamodule = CTRDataModule(
        raw_source=UniqueRowSource(tmp_path, rows=600),
        preprocess=PreprocessConfig(min_count=1, row_group_rows=64),
        cache_root=str(tmp_path / "cache"),
        batch_size=32,
        eval_batch_size=25,
        num_workers=num_workers,
        shuffle_buffer_row_groups=2,
    )
    feature_map = datamodule.prepare_and_setup()
    assert datamodule.num_rows("train") == 600 and feature_map.field_names == ["I1", "rid"]
    module = RecordingModule(rid_column=feature_map.field_names.index("rid"))
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        devices=1,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=datamodule)
    return module.seen


@pytest.mark.parametrize("num_workers", [0, 2])
def test_callback_reshuffles_each_epoch_in_a_real_trainer(tmp_path: Path, num_workers: int) -> None:
    first, second = fit_two_epochs(tmp_path, num_workers, [StreamEpochCallback()])
    all_ids = list(range(2, 602))  # rid ids 2.. (one per training row, min_count=1)
    assert sorted(first) == all_ids and sorted(second) == all_ids
    assert first != second


def test_without_callback_epochs_repeat(tmp_path: Path) -> None:
    """The control: the reshuffle above comes from the callback, not from Lightning."""
    first, second = fit_two_epochs(tmp_path, 2, [])
    assert first == second


def test_train_dataloader_starts_at_trainer_epoch(tmp_path: Path) -> None:
    """A resumed run's first iterator exists before any epoch hook; it must use that epoch."""
    datamodule = CTRDataModule(
        UniqueRowSource(tmp_path, 100), PreprocessConfig(), str(tmp_path / "c")
    )
    datamodule.prepare_and_setup()
    datamodule.trainer = L.Trainer(logger=False, max_epochs=9)
    progress = datamodule.trainer.fit_loop.epoch_progress.current
    progress.completed = progress.processed = 5
    assert datamodule.trainer.current_epoch == 5
    assert datamodule.train_dataloader().dataset.epoch == 5
