"""Sharded, chunk-shuffled streaming of preprocessed parquet shards into ready-made batches.

Unlike a per-row loader that shards only by worker (so every DDP rank reads all the data), each
(rank, worker) pair reads a disjoint contiguous slice of the global row space and only the row
groups that overlap it. Whole row groups go pyarrow -> numpy -> torch; there is no per-row Python.

Two guarantees that distributed, preemptible training needs (``tests/data/test_stream_ddp.py``):
every rank yields the same number of batches per epoch (DDP hangs otherwise) without repeating
or dropping a row, and an epoch can be resumed after ``n`` consumed batches with exactly the
batches an uninterrupted epoch would have yielded next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from reaction.config import ConfigError
from reaction.data.batch import Batch
from reaction.data.checks import loader_problems
from reaction.data.id_arrays import open_arrays


@dataclass(frozen=True)
class _Chunk:
    """Rows ``[lo, hi)`` of one row group of one file (a whole group unless at a shard edge)."""

    file: int
    row_group: int
    lo: int
    hi: int
    offset: int  # row of the group's first row within its file


def shard_range(num_rows: int, rank: int, world_size: int, worker: int, num_workers: int) -> range:
    """Global rows of one (rank, worker): contiguous, disjoint, covering ``[0, num_rows)``.

    Rows are split across ranks first, then across the workers of a rank, so the per-rank row
    counts differ by at most 1.
    """
    start, stop = num_rows * rank // world_size, num_rows * (rank + 1) // world_size
    n = stop - start
    return range(start + n * worker // num_workers, start + n * (worker + 1) // num_workers)


def equal_batch_counts(
    num_rows: int, world_size: int, num_workers: int, batch_size: int
) -> list[list[int]]:
    """Batches of every ``[rank][worker]`` so that every rank yields the same number.

    A worker naturally yields ``ceil(rows / batch_size)`` batches, so ranks whose rows differ by
    one (or whose workers' tails differ) would disagree by a batch and DDP would wait forever.
    The short ranks instead cut their tails into more, smaller batches (see ``next_batch_size``):
    every row is still seen exactly once, no row is padded or dropped.
    """
    counts = []
    for rank in range(world_size):
        rows = [
            len(shard_range(num_rows, rank, world_size, w, num_workers)) for w in range(num_workers)
        ]
        counts.append((rows, [-(-n // batch_size) for n in rows]))
    target = max(sum(natural) for _, natural in counts)
    plan = []
    for rank, (rows, natural) in enumerate(counts):
        if sum(rows) < target:
            raise ValueError(
                f"rank {rank} has {sum(rows)} training rows, fewer than the {target} batches "
                f"every rank must yield: use fewer processes/workers or more data"
            )
        batches = list(natural)
        for _ in range(target - sum(natural)):  # one more cut where rows per batch is largest
            w = max(range(num_workers), key=lambda i: rows[i] - batches[i])
            batches[w] += 1
        plan.append(batches)
    return plan


def next_batch_size(rows_left: int, batches_left: int, batch_size: int) -> int:
    """Full batches while the remaining rows allow it; the tail is cut so every batch gets one."""
    return min(batch_size, rows_left - batches_left + 1)


def consumed_per_worker(batches: list[int], consumed: int) -> tuple[list[int], int]:
    """Which of each worker's batches are among the first ``consumed``, and who is next.

    A DataLoader over an ``IterableDataset`` takes batches from its workers in turn (0, 1, ...)
    and skips workers that are exhausted, so the yielded order is round-robin over the
    unfinished workers. Returns the batches taken per worker and the worker whose turn is next
    (the resumed loader starts its round-robin there).
    """
    if not 0 <= consumed <= sum(batches):
        raise ValueError(f"cannot resume after {consumed} of {sum(batches)} batches")
    taken, turn = [0] * len(batches), 0
    while consumed:
        if taken[turn] < batches[turn]:
            taken[turn] += 1
            consumed -= 1
        turn = (turn + 1) % len(batches)
    return taken, turn


class ParquetBatchStream(IterableDataset):
    """Yields :class:`Batch` objects; use with ``DataLoader(stream, batch_size=None)``.

    Every row is visited exactly once per epoch across all ranks and workers. Each shard yields
    full batches of ``batch_size`` except its last one. Per-rank row counts differ by at most 1,
    so batch counts per rank could differ by one; with ``equal_batches`` (training under DDP
    needs it) short ranks cut their tails finer instead (:func:`equal_batch_counts`).
    :meth:`resume` makes the next pass over an epoch start after the batches already consumed.

    With ``shuffle`` the shard's row-group chunks are permuted by ``(seed, epoch)`` and rows are
    shuffled within a buffer of ``shuffle_buffer_row_groups`` chunks; the order is deterministic
    for a given ``(seed, epoch, rank, worker)``. Without it, file and row order are preserved.
    ``rank``/``world_size`` default to ``torch.distributed`` when initialised, else 0/1.
    """

    def __init__(
        self,
        paths: list[str | Path],
        feature_columns: list[str],
        label_columns: list[str],
        batch_size: int,
        shuffle: bool,
        shuffle_buffer_row_groups: int = 4,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        equal_batches: bool = False,
        arrays: list[tuple[Path, Path]] | None = None,
    ) -> None:
        super().__init__()
        sizes = {"batch_size": batch_size, "shuffle_buffer_row_groups": shuffle_buffer_row_groups}
        if problems := loader_problems(sizes):
            raise ConfigError(problems, "loader")
        if (rank is None) != (world_size is None):
            raise ValueError(f"give both rank and world_size or neither: {rank}, {world_size}")
        if world_size is not None and not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        if not paths:
            raise ValueError("ParquetBatchStream needs at least one parquet file")
        if arrays is not None and len(arrays) != len(paths):
            raise ValueError(f"{len(arrays)} id array pairs for {len(paths)} parquet files")
        self.paths = [Path(p) for p in paths]
        self.feature_columns = list(feature_columns)
        self.label_columns = list(label_columns)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.shuffle_buffer_row_groups = shuffle_buffer_row_groups
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.equal_batches = equal_batches
        self.arrays = None if arrays is None else [(Path(f), Path(y)) for f, y in arrays]
        self.epoch = 0
        self._resume: tuple[int, int] | None = None  # (epoch, batches already consumed)
        self._row_groups = self._index_row_groups()
        self._check_arrays()
        self._dist = self._capture_dist()

    @property
    def num_rows(self) -> int:
        return sum(group[3] for group in self._row_groups)

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffle order; call before the DataLoader iterator is created."""
        self.epoch = epoch
        self._dist = self._capture_dist()

    def resume(self, epoch: int, consumed_batches: int) -> None:
        """Make the pass over ``epoch`` skip the batches this rank already trained on.

        Only that epoch is affected; the skipped batches are still drawn (and discarded) so the
        shuffle order of the rest of the epoch is exactly the uninterrupted one.
        """
        if consumed_batches < 0:
            raise ValueError(f"consumed_batches must be >= 0, got {consumed_batches}")
        self._resume = (epoch, consumed_batches)

    def batches_per_worker(self, rank: int, world_size: int, num_workers: int) -> list[int]:
        """Batches each worker of ``rank`` yields in one epoch."""
        if self.equal_batches:
            plan = equal_batch_counts(self.num_rows, world_size, num_workers, self.batch_size)
            return plan[rank]
        return [
            -(-len(shard_range(self.num_rows, rank, world_size, w, num_workers)) // self.batch_size)
            for w in range(num_workers)
        ]

    def __iter__(self) -> Iterator[Batch]:
        rank, world_size = self._rank_world()
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        batches = self.batches_per_worker(rank, world_size, num_workers)
        skip = [0] * num_workers
        shard = worker
        if self._resume is not None and self._resume[0] == self.epoch:
            # The loader restarts its round-robin at worker 0: rotate the shards so worker 0
            # serves the shard whose turn was next, and the order continues unchanged.
            skip, turn = consumed_per_worker(batches, self._resume[1])
            shard = (worker + turn) % num_workers
        rows = shard_range(self.num_rows, rank, world_size, shard, num_workers)
        chunks = self._chunks(rows.start, rows.stop)
        rng = None
        if self.shuffle:
            seq = np.random.SeedSequence([self.seed, self.epoch, rank, shard])
            rng = np.random.default_rng(seq)
            chunks = [chunks[i] for i in rng.permutation(len(chunks))]
        return self._batches(chunks, rng, len(rows), batches[shard], skip[shard])

    def _index_row_groups(self) -> list[tuple[int, int, int, int, int]]:
        """``(file, row_group, global_start, num_rows, row in file)`` of every row group, from
        footers only."""
        wanted = self.feature_columns + self.label_columns
        groups, start = [], 0
        for i, path in enumerate(self.paths):
            meta = pq.ParquetFile(path).metadata
            names = set(meta.schema.names)
            missing = [c for c in wanted if c not in names]
            if missing:
                raise ValueError(f"{path}: missing columns {missing}")
            in_file = 0
            for g in range(meta.num_row_groups):
                n = meta.row_group(g).num_rows
                groups.append((i, g, start, n, in_file))
                start, in_file = start + n, in_file + n
        return groups

    def _check_arrays(self) -> None:
        """Id arrays must have the parquet files' rows and this stream's column counts."""
        rows = [0] * len(self.paths)
        for file, _, _, n, _ in self._row_groups:
            rows[file] += n
        widths = (len(self.feature_columns), len(self.label_columns))
        for path, n, pair in zip(self.paths, rows, self.arrays or [], strict=False):
            for array_path, width in zip(pair, widths, strict=True):
                shape = np.load(array_path, mmap_mode="r").shape
                if shape != (n, width):
                    raise ValueError(f"{array_path}: shape {shape}, expected {(n, width)} ({path})")

    def _capture_dist(self) -> tuple[int, int] | None:
        """Remember the process group in the main process (spawned workers do not inherit it)."""
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return None

    def _rank_world(self) -> tuple[int, int]:
        if self.rank is not None and self.world_size is not None:
            return self.rank, self.world_size
        live = self._capture_dist()
        return live or self._dist or (0, 1)

    def _chunks(self, start: int, stop: int) -> list[_Chunk]:
        """Row groups overlapping ``[start, stop)``, clipped to it."""
        chunks = []
        for file, group, g_start, n, offset in self._row_groups:
            lo, hi = max(start, g_start), min(stop, g_start + n)
            if lo < hi:
                chunks.append(_Chunk(file, group, lo - g_start, hi - g_start, offset))
        return chunks

    def _read(self, chunk: _Chunk, files: dict[int, object]) -> tuple[np.ndarray, ...]:
        """One chunk as ``(n, F)`` int32 ids and ``(n, L)`` float32 labels: a slice of the id
        arrays' memory maps when the stream has them, else decoded from the parquet row group."""
        if self.arrays is not None:
            if chunk.file not in files:
                files[chunk.file] = open_arrays(*self.arrays[chunk.file])
            ids, ys = files[chunk.file]
            lo, hi = chunk.offset + chunk.lo, chunk.offset + chunk.hi
            return ids[lo:hi], ys[lo:hi]  # views: the buffer's concatenate is the one copy
        if chunk.file not in files:
            files[chunk.file] = pq.ParquetFile(self.paths[chunk.file])
        columns = self.feature_columns + self.label_columns
        table = files[chunk.file].read_row_group(chunk.row_group, columns=columns)
        table = table.slice(chunk.lo, chunk.hi - chunk.lo)
        features = np.empty((table.num_rows, len(self.feature_columns)), dtype=np.int32)
        for j, name in enumerate(self.feature_columns):
            features[:, j] = table.column(name).to_numpy()
        labels = np.empty((table.num_rows, len(self.label_columns)), dtype=np.float32)
        for j, name in enumerate(self.label_columns):
            labels[:, j] = table.column(name).to_numpy()
        return features, labels

    def _batches(
        self,
        chunks: list[_Chunk],
        rng: np.random.Generator | None,
        num_rows: int,
        num_batches: int,
        skip: int,
    ) -> Iterator[Batch]:
        """Fill a buffer of chunks, shuffle it, emit batches; the remainder carries over.

        Batch sizes come from :func:`next_batch_size`, so the shard yields exactly
        ``num_batches``; the first ``skip`` are drawn but not yielded (resume).
        """
        files: dict[int, object] = {}
        group = self.shuffle_buffer_row_groups if rng is not None else 1
        features, labels = self._read_empty()
        emitted = 0
        for i in range(0, len(chunks), group):
            parts = [(features, labels)] + [self._read(c, files) for c in chunks[i : i + group]]
            features = np.concatenate([p[0] for p in parts])
            labels = np.concatenate([p[1] for p in parts])
            # the permutation is applied per batch (one gather, fused with the widening copy)
            order = rng.permutation(len(features)) if rng is not None else None
            start = 0
            while emitted < num_batches:
                size = next_batch_size(num_rows, num_batches - emitted, self.batch_size)
                if len(features) - start < size:
                    break
                if emitted >= skip:
                    rows = _rows(order, start, start + size)
                    yield self._batch(features[rows], labels[rows])
                start += size
                num_rows -= size
                emitted += 1
            rest = _rows(order, start, len(features))
            features, labels = features[rest], labels[rest]
        if emitted != num_batches or len(features):
            raise RuntimeError(
                f"stream emitted {emitted} of {num_batches} batches, {len(features)} rows left"
            )

    def _read_empty(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.empty((0, len(self.feature_columns)), dtype=np.int32),
            np.empty((0, len(self.label_columns)), dtype=np.float32),
        )

    @staticmethod
    def _batch(features: np.ndarray, labels: np.ndarray) -> Batch:
        """Ids stay int32 through reading and shuffling (half the bytes moved), widened here."""
        return Batch(torch.from_numpy(features.astype(np.int64)), torch.from_numpy(labels))


def _rows(order: np.ndarray | None, start: int, stop: int) -> slice | np.ndarray:
    """Rows ``start:stop`` of the buffer in emission order (shuffled when there is an order)."""
    return slice(start, stop) if order is None else order[start:stop]
