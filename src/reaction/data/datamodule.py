"""The one LightningDataModule: raw source -> cached preprocessing -> sharded parquet streams."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from reaction.config import ConfigError
from reaction.data.checks import loader_problems
from reaction.data.id_arrays import ensure_id_arrays, split_arrays
from reaction.data.preprocess import (
    PreprocessConfig,
    PreprocessedData,
    RawSource,
    RawSplits,
    load_cached,
    load_or_build,
)
from reaction.data.schema import FeatureMap
from reaction.data.stream import ParquetBatchStream
from reaction.metrics import keys

log = logging.getLogger(__name__)


class CTRDataModule(L.LightningDataModule):
    """Streams preprocessed CTR data; the preprocessing cache is built once, on rank 0.

    ``prepare_data`` materialises the raw files and builds (or reuses) the cache; ``setup`` only
    opens the validated cache, so every rank sees the same feature map. Training batches are
    shuffled per epoch: add :class:`reaction.callbacks.stream_epoch.StreamEpochCallback`.

    With ``id_arrays`` the splits are also written once as fixed-width id arrays that the streams
    memory-map (``reaction.data.id_arrays``): the same batches, read several times faster.

    The training stream's position (epoch, batches this rank consumed) is part of every
    checkpoint (``state_dict``), so a resumed run continues mid-epoch with the next unseen batch.
    """

    def __init__(
        self,
        raw_source: RawSource,
        preprocess: PreprocessConfig,
        cache_root: str,
        batch_size: int = 1024,
        eval_batch_size: int = 4096,
        num_workers: int = 0,
        shuffle_buffer_row_groups: int = 4,
        seed: int = 0,
        id_arrays: bool = False,
    ) -> None:
        super().__init__()
        sizes = {"batch_size": batch_size, "eval_batch_size": eval_batch_size}
        sizes |= {
            "num_workers": num_workers,
            "shuffle_buffer_row_groups": shuffle_buffer_row_groups,
        }
        if problems := loader_problems(sizes):
            raise ConfigError(problems, "loader")
        self.raw_source = raw_source
        self.preprocess = preprocess
        self.cache_root = Path(cache_root)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.shuffle_buffer_row_groups = shuffle_buffer_row_groups
        self.seed = seed
        self.id_arrays = id_arrays
        self._raw: RawSplits | None = None
        self._data: PreprocessedData | None = None
        self._resume: dict[str, int] | None = None

    def prepare_data(self) -> None:
        """Rank 0 only (per node): write raw files if needed, build the cache if needed (in parts
        on the raw source's ``jobs`` where it has them: ``data.preprocess_workers``/``_slurm``)."""
        raw = self._raw_splits()
        jobs = getattr(self.raw_source, "jobs", None)
        self._data = load_or_build(raw, self.preprocess, self.cache_root, jobs=jobs)
        if self.id_arrays:
            ensure_id_arrays(self._data)

    def setup(self, stage: str | None = None) -> None:
        """Every rank: open the cache that ``prepare_data`` built (never builds, never deletes)."""
        if self._data is None:
            self._data = load_cached(self._raw_splits(), self.preprocess, self.cache_root)
        log.info(
            "data %s: %d fields, rows %s, cache %s",
            self._data.feature_map.dataset,
            self._data.feature_map.num_fields,
            self._data.feature_map.extra.get("rows"),
            self._data.root,
        )

    def prepare_and_setup(self) -> FeatureMap:
        """Single-process convenience for entry points that need the feature map before a model."""
        self.prepare_data()
        self.setup("fit")
        return self.feature_map

    @property
    def data(self) -> PreprocessedData:
        if self._data is None:
            raise RuntimeError("CTRDataModule: call prepare_data()/setup() first")
        return self._data

    @property
    def feature_map(self) -> FeatureMap:
        return self.data.feature_map

    def num_rows(self, split: str) -> int:
        return self.data.num_rows(split)

    def data_info(self) -> dict[str, object]:
        """The ``data`` block of ``results.json``: row counts, the feature-map hash, for sources
        that know it (synthetic) the reference ceiling from ``reference_metrics()``, and for file
        sources the ingest summary from ``input_summary()`` (rows read/kept/skipped, the first
        skipped rows as ``file:line: reason``) under ``input``."""
        info: dict[str, object] = {
            keys.ROWS_TRAIN: self.num_rows("train"),
            keys.ROWS_VAL: self.num_rows("val"),
            keys.ROWS_TEST: self.num_rows("test"),
            "feature_map": self.feature_map.fingerprint(),
        }
        reference = getattr(self.raw_source, "reference_metrics", None)
        if callable(reference):
            info.update(reference())
        summary = getattr(self.raw_source, "input_summary", None)
        if callable(summary):
            info["input"] = summary()
        return info

    def state_dict(self) -> dict[str, Any]:
        """The training stream's position, saved in every checkpoint (also mid-epoch ones)."""
        if self.trainer is None:
            return {}
        progress = self.trainer.fit_loop.epoch_loop.batch_progress.current
        position = {"epoch": self.trainer.current_epoch, "batches": progress.processed}
        return {"train_position": {**position, **self._layout()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Remember where the checkpointed epoch stopped (used by ``train_dataloader``)."""
        self._resume = state.get("train_position")

    def _layout(self) -> dict[str, int]:
        """What a stream position depends on: another layout cuts the epoch differently."""
        return {
            "batch_size": self.batch_size,
            "num_workers": self.num_workers,
            "world_size": self.trainer.world_size if self.trainer is not None else 1,
            "seed": self.seed,
        }

    def _resume_stream(self, stream: ParquetBatchStream, epoch: int) -> None:
        """Skip the batches the checkpoint already trained on, if it stopped inside ``epoch``."""
        position = self._resume
        if position is None or position["epoch"] != epoch:
            return
        changed = {k: (position[k], v) for k, v in self._layout().items() if position[k] != v}
        if changed:
            detail = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items())
            raise ValueError(
                f"cannot resume inside epoch {epoch}: the checkpoint's stream position was taken "
                f"with another data layout ({detail}); resume with the same settings or from an "
                f"epoch-end checkpoint"
            )
        stream.resume(epoch, position["batches"])

    def train_dataloader(self) -> DataLoader:
        stream = self._stream("train", self.batch_size, shuffle=True, equal_batches=True)
        # The first epoch's iterator exists before any epoch hook (see StreamEpochCallback), so
        # it starts at the epoch the loop will run: after an epoch-end checkpoint Lightning runs
        # the next epoch (processed = epochs done) on this iterator, after a mid-epoch one the
        # interrupted epoch (processed = its index), whose consumed batches are skipped.
        epoch = self.trainer.fit_loop.epoch_progress.current.processed if self.trainer else 0
        stream.set_epoch(epoch)
        self._resume_stream(stream, epoch)
        return self._loader(stream)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._stream("val", self.eval_batch_size, shuffle=False))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._stream("test", self.eval_batch_size, shuffle=False))

    def _raw_splits(self) -> RawSplits:
        if self._raw is None:
            self._raw = self.raw_source.prepare()
        return self._raw

    def _stream(
        self, split: str, batch_size: int, shuffle: bool, equal_batches: bool = False
    ) -> ParquetBatchStream:
        fm = self.feature_map
        return ParquetBatchStream(
            paths=[self.data.split_path(split)],
            feature_columns=fm.field_names,
            label_columns=list(fm.labels),
            batch_size=batch_size,
            shuffle=shuffle,
            shuffle_buffer_row_groups=self.shuffle_buffer_row_groups,
            seed=self.seed,
            equal_batches=equal_batches,
            arrays=[split_arrays(self.data, split)] if self.id_arrays else None,
        )

    def _loader(self, stream: ParquetBatchStream) -> DataLoader:
        """Batches are made by the stream, hence ``batch_size=None``.

        Batches are pinned when a GPU is present (a background thread with workers).
        The loader gets its own generator: otherwise creating an iterator draws from the global
        torch RNG, and a resumed run (one iterator fewer) would continue with other dropout masks.
        """
        return DataLoader(
            stream,
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=False,
            pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(self.seed),
        )
