"""Exactly once and in step: equal batch counts per rank, and resuming an epoch mid-way.

DDP needs every rank to run the same number of steps; preemptible jobs need an epoch to continue
after the batches already trained on. Both must hold without repeating or dropping a row.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st
from lightning.pytorch.callbacks import ModelCheckpoint

from reaction.callbacks.resume import MidEpochCheckpoint, RNGStateCallback
from reaction.callbacks.stream_epoch import StreamEpochCallback
from reaction.data.datamodule import CTRDataModule
from reaction.data.preprocess import PreprocessConfig
from reaction.data.stream import consumed_per_worker, equal_batch_counts, next_batch_size
from tests.data.test_stream import (
    NUM_ROWS,
    RecordingModule,
    UniqueRowSource,
    epoch_batches,
    make_stream,
    row_ids,
)


@given(
    num_rows=st.integers(1, 5000),
    world_size=st.integers(1, 4),
    num_workers=st.integers(1, 4),
    batch_size=st.integers(1, 300),
)
@settings(max_examples=300, deadline=None)
def test_equal_batch_counts_plan(
    num_rows: int, world_size: int, num_workers: int, batch_size: int
) -> None:
    try:
        plan = equal_batch_counts(num_rows, world_size, num_workers, batch_size)
    except ValueError as err:  # only when a rank has fewer rows than the common batch count
        assert "fewer than the" in str(err)
        return
    assert len({sum(ranks) for ranks in plan}) == 1
    for rank, batches in enumerate(plan):
        for worker, count in enumerate(batches):
            rows = len(range(*_shard(num_rows, rank, world_size, worker, num_workers)))
            natural = -(-rows // batch_size)
            assert natural <= count <= rows or count == natural == 0
            sizes, left = [], rows
            for remaining in range(count, 0, -1):
                sizes.append(next_batch_size(left, remaining, batch_size))
                left -= sizes[-1]
            assert left == 0 and all(1 <= s <= batch_size for s in sizes)


def _shard(num_rows: int, rank: int, world: int, worker: int, workers: int) -> tuple[int, int]:
    from reaction.data.stream import shard_range

    r = shard_range(num_rows, rank, world, worker, workers)
    return r.start, r.stop


def test_consumed_per_worker_is_round_robin_over_unfinished_workers() -> None:
    assert consumed_per_worker([3, 1, 2], 0) == ([0, 0, 0], 0)
    assert consumed_per_worker([3, 1, 2], 1) == ([1, 0, 0], 1)
    assert consumed_per_worker([3, 1, 2], 4) == ([2, 1, 1], 1)
    assert consumed_per_worker([3, 1, 2], 5) == ([2, 1, 2], 0)
    assert consumed_per_worker([3, 1, 2], 6) == ([3, 1, 2], 1)
    with pytest.raises(ValueError, match="after 7 of 6"):
        consumed_per_worker([3, 1, 2], 7)


@pytest.mark.parametrize(("world_size", "num_workers"), [(2, 0), (3, 2), (4, 3)])
def test_every_rank_yields_the_same_number_of_batches_and_every_row_once(
    shards: list[Path], world_size: int, num_workers: int
) -> None:
    """NUM_ROWS = 5003 is odd: ranks get rows differing by one, which used to mean unequal
    batch counts (and a DDP hang)."""
    counts, rows = [], []
    for rank in range(world_size):
        stream = make_stream(
            shards, rank=rank, world_size=world_size, equal_batches=True, shuffle=True
        )
        batches = epoch_batches(stream, num_workers)
        counts.append(len(batches))
        rows += row_ids(batches).tolist()
    assert len(set(counts)) == 1
    assert sorted(rows) == list(range(NUM_ROWS))


@pytest.mark.parametrize("num_workers", [0, 3])
@pytest.mark.parametrize("consumed", [0, 1, 7, 20, 40])
def test_resumed_epoch_yields_exactly_the_remaining_batches(
    shards: list[Path], num_workers: int, consumed: int
) -> None:
    reference = epoch_batches(make_stream(shards, shuffle=True, equal_batches=True), num_workers)
    stream = make_stream(shards, shuffle=True, equal_batches=True)
    stream.set_epoch(0)
    stream.resume(0, consumed)
    resumed = epoch_batches(stream, num_workers)
    assert len(resumed) == len(reference) - consumed
    for got, want in zip(resumed, reference[consumed:], strict=True):
        assert torch.equal(got.features, want.features)
    stream.set_epoch(1)  # the resume position belongs to its epoch only
    assert len(epoch_batches(stream, num_workers)) == len(reference)


def _gloo_epoch(rank: int, world_size: int, paths: list[Path], out: Path) -> None:
    dist.init_process_group(
        "gloo", init_method=f"file://{out / 'pg'}", rank=rank, world_size=world_size
    )
    try:  # rank/world come from torch.distributed, as under Lightning's DDP
        stream = make_stream(paths, shuffle=True, equal_batches=True)
        batches = epoch_batches(stream, num_workers=2)
        np.save(out / f"rank{rank}.npy", row_ids(batches))
        (out / f"rank{rank}.count").write_text(str(len(batches)))
    finally:
        dist.destroy_process_group()


@pytest.mark.ddp
def test_two_gloo_processes_see_every_row_exactly_once_in_equal_steps(
    shards: list[Path], tmp_path: Path
) -> None:
    mp.spawn(_gloo_epoch, args=(2, shards, tmp_path), nprocs=2, join=True)
    rows = np.concatenate([np.load(tmp_path / f"rank{r}.npy") for r in range(2)])
    counts = {int((tmp_path / f"rank{r}.count").read_text()) for r in range(2)}
    assert len(counts) == 1
    assert sorted(rows.tolist()) == list(range(NUM_ROWS))


class _Crash(L.Callback):
    """Stands in for a preemption: the process dies after ``step`` optimizer steps."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step >= self.step:
            raise RuntimeError("preempted")


class _BatchRecorder(RecordingModule):
    """Every training batch's row ids, in order, across epochs and restarts."""

    def __init__(self, rid_column: int) -> None:
        super().__init__(rid_column)
        self.batches: list[list[int]] = []

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:  # noqa: ANN001
        self.batches.append(batch.features[:, self.rid_column].tolist())
        return ((self.weight - batch.labels) ** 2).mean()


def _fit(root: Path, num_workers: int, every: int, crash: int | None = None) -> list[list[int]]:
    root.mkdir(parents=True, exist_ok=True)
    datamodule = CTRDataModule(
        raw_source=UniqueRowSource(root, rows=600),
        preprocess=PreprocessConfig(min_count=1, row_group_rows=64),
        cache_root=str(root / "cache"),
        batch_size=32,
        num_workers=num_workers,
        shuffle_buffer_row_groups=2,
    )
    feature_map = datamodule.prepare_and_setup()
    module = _BatchRecorder(feature_map.field_names.index("rid"))
    checkpoints = root / "checkpoints"
    callbacks: list[L.Callback] = [
        StreamEpochCallback(),
        RNGStateCallback(),
        # as conf/callbacks/default.yaml: one last.ckpt, the newer of epoch end and mid-epoch
        ModelCheckpoint(dirpath=checkpoints, save_last=True, enable_version_counter=False),
        MidEpochCheckpoint(
            dirpath=checkpoints,
            every_n_train_steps=every,
            save_top_k=0,
            save_last=True,
            enable_version_counter=False,
        ),
    ]
    if crash is not None:
        callbacks.append(_Crash(crash))
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    last = checkpoints / "last.ckpt"
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=last if last.exists() else None)
    except RuntimeError as err:
        assert "preempted" in str(err)
    return module.batches


@pytest.mark.parametrize(
    ("num_workers", "every", "crash"),
    [(0, 4, 6), (0, 4, 37), (2, 5, 23), (2, 5, 21), (0, 100, 25), (2, 100, 45)],
    ids=[
        "epoch0-mid",
        "epoch1-mid",
        "workers",
        "after-last-batch",
        "epoch-end",
        "workers-epoch-end",
    ],
)
def test_resume_after_a_crash_trains_every_batch_once_in_the_uninterrupted_order(
    tmp_path: Path, num_workers: int, every: int, crash: int
) -> None:
    """every=100 never fires inside an epoch: those resume from the epoch-end checkpoint."""
    reference = _fit(tmp_path / "reference", num_workers, every)
    before = _fit(tmp_path / "run", num_workers, every, crash=crash)
    saved = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=False)["global_step"]
    after = _fit(tmp_path / "run", num_workers, every)
    assert 0 < saved < crash + 1 and len(before) == crash
    assert before[:saved] + after == reference
