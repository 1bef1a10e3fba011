"""Sharded, chunk-shuffled streaming of preprocessed parquet shards into ready-made batches.

Unlike a per-row loader that shards only by worker (so every DDP rank reads all the data), each
(rank, worker) pair reads a disjoint contiguous slice of the global row space and only the row
groups that overlap it. Whole row groups go pyarrow -> numpy -> torch; there is no per-row Python.
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

from reaction.data.batch import Batch


@dataclass(frozen=True)
class _Chunk:
    """Rows ``[lo, hi)`` of one row group of one file (a whole group unless at a shard edge)."""

    file: int
    row_group: int
    lo: int
    hi: int


def shard_range(num_rows: int, rank: int, world_size: int, worker: int, num_workers: int) -> range:
    """Global rows of one (rank, worker): contiguous, disjoint, covering ``[0, num_rows)``.

    Rows are split across ranks first, then across the workers of a rank, so the per-rank row
    counts differ by at most 1.
    """
    start, stop = num_rows * rank // world_size, num_rows * (rank + 1) // world_size
    n = stop - start
    return range(start + n * worker // num_workers, start + n * (worker + 1) // num_workers)


class ParquetBatchStream(IterableDataset):
    """Yields :class:`Batch` objects; use with ``DataLoader(stream, batch_size=None)``.

    Every row is visited exactly once per epoch across all ranks and workers. Each shard yields
    full batches of ``batch_size`` except its last one. Per-rank row counts differ by at most 1,
    so batch counts per rank can differ by one: DDP needs equal counts (or it hangs), which is left
    to a later layer (e.g. padding or dropping the tail per rank).

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
    ) -> None:
        super().__init__()
        if batch_size < 1 or shuffle_buffer_row_groups < 1:
            raise ValueError(
                f"batch_size ({batch_size}) and shuffle_buffer_row_groups "
                f"({shuffle_buffer_row_groups}) must be >= 1"
            )
        if (rank is None) != (world_size is None):
            raise ValueError(f"give both rank and world_size or neither: {rank}, {world_size}")
        if world_size is not None and not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        if not paths:
            raise ValueError("ParquetBatchStream needs at least one parquet file")
        self.paths = [Path(p) for p in paths]
        self.feature_columns = list(feature_columns)
        self.label_columns = list(label_columns)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.shuffle_buffer_row_groups = shuffle_buffer_row_groups
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self._row_groups = self._index_row_groups()
        self._dist = self._capture_dist()

    @property
    def num_rows(self) -> int:
        return sum(n for _, _, _, n in self._row_groups)

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffle order; call before the DataLoader iterator is created."""
        self.epoch = epoch
        self._dist = self._capture_dist()

    def __iter__(self) -> Iterator[Batch]:
        rank, world_size = self._rank_world()
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rows = shard_range(self.num_rows, rank, world_size, worker, num_workers)
        chunks = self._chunks(rows.start, rows.stop)
        rng = None
        if self.shuffle:
            seq = np.random.SeedSequence([self.seed, self.epoch, rank, worker])
            rng = np.random.default_rng(seq)
            chunks = [chunks[i] for i in rng.permutation(len(chunks))]
        return self._batches(chunks, rng)

    def _index_row_groups(self) -> list[tuple[int, int, int, int]]:
        """``(file, row_group, global_start, num_rows)`` of every row group, from footers only."""
        wanted = self.feature_columns + self.label_columns
        groups, start = [], 0
        for i, path in enumerate(self.paths):
            meta = pq.ParquetFile(path).metadata
            names = set(meta.schema.names)
            missing = [c for c in wanted if c not in names]
            if missing:
                raise ValueError(f"{path}: missing columns {missing}")
            for g in range(meta.num_row_groups):
                n = meta.row_group(g).num_rows
                groups.append((i, g, start, n))
                start += n
        return groups

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
        for file, group, g_start, n in self._row_groups:
            lo, hi = max(start, g_start), min(stop, g_start + n)
            if lo < hi:
                chunks.append(_Chunk(file, group, lo - g_start, hi - g_start))
        return chunks

    def _read(self, chunk: _Chunk, files: dict[int, pq.ParquetFile]) -> tuple[np.ndarray, ...]:
        """One chunk as ``(n, F)`` int64 features and ``(n, L)`` float32 labels."""
        if chunk.file not in files:
            files[chunk.file] = pq.ParquetFile(self.paths[chunk.file])
        columns = self.feature_columns + self.label_columns
        table = files[chunk.file].read_row_group(chunk.row_group, columns=columns)
        table = table.slice(chunk.lo, chunk.hi - chunk.lo)
        features = np.empty((table.num_rows, len(self.feature_columns)), dtype=np.int64)
        for j, name in enumerate(self.feature_columns):
            features[:, j] = table.column(name).to_numpy()
        labels = np.empty((table.num_rows, len(self.label_columns)), dtype=np.float32)
        for j, name in enumerate(self.label_columns):
            labels[:, j] = table.column(name).to_numpy()
        return features, labels

    def _batches(self, chunks: list[_Chunk], rng: np.random.Generator | None) -> Iterator[Batch]:
        """Fill a buffer of chunks, shuffle it, emit full batches; the remainder carries over."""
        files: dict[int, pq.ParquetFile] = {}
        group = self.shuffle_buffer_row_groups if rng is not None else 1
        pending = self._read_empty()
        for i in range(0, len(chunks), group):
            parts = [pending] + [self._read(c, files) for c in chunks[i : i + group]]
            features = np.concatenate([p[0] for p in parts])
            labels = np.concatenate([p[1] for p in parts])
            if rng is not None:
                order = rng.permutation(len(features))
                features, labels = features[order], labels[order]
            full = len(features) - len(features) % self.batch_size
            for b in range(0, full, self.batch_size):
                yield self._batch(
                    features[b : b + self.batch_size], labels[b : b + self.batch_size]
                )
            pending = (features[full:], labels[full:])
        if len(pending[0]):
            yield self._batch(*pending)

    def _read_empty(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.empty((0, len(self.feature_columns)), dtype=np.int64),
            np.empty((0, len(self.label_columns)), dtype=np.float32),
        )

    @staticmethod
    def _batch(features: np.ndarray, labels: np.ndarray) -> Batch:
        return Batch(torch.from_numpy(features), torch.from_numpy(labels))
