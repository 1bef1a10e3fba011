"""Reshuffle streamed training data every epoch.

Lightning calls ``set_epoch`` only on a DataLoader's *sampler*; an ``IterableDataset`` never hears
about epochs, so without this callback every epoch would replay the same order.

Verified on Lightning 2.6 (``tests/data/test_stream.py``): for epochs after the first, the
training iterator (and with ``num_workers > 0`` the worker processes, which snapshot the dataset)
is created in ``TrainingEpochLoop.on_run_start``, i.e. *after* ``on_train_epoch_start``, so setting
the epoch there takes effect. The first epoch's iterator is created earlier, in
``FitLoop.setup_data``, before any epoch hook; ``CTRDataModule.train_dataloader`` therefore builds
the stream with ``trainer.current_epoch`` already set, which also covers resuming from a checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import lightning as L
from torch.utils.data import DataLoader

log = logging.getLogger(__name__)


class StreamEpochCallback(L.Callback):
    """Calls ``set_epoch(trainer.current_epoch)`` on every training dataset that has it."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for loader in _loaders(trainer.train_dataloader):
            set_epoch = getattr(loader.dataset, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(trainer.current_epoch)
                log.debug("set_epoch(%d) on %s", trainer.current_epoch, type(loader.dataset))


def _loaders(obj: object) -> list[DataLoader]:
    """DataLoaders inside whatever ``trainer.train_dataloader`` holds (one, a list or a dict)."""
    if isinstance(obj, DataLoader):
        return [obj]
    if isinstance(obj, Mapping):
        return [dl for value in obj.values() for dl in _loaders(value)]
    if isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
        return [dl for value in obj for dl in _loaders(value)]
    return []
