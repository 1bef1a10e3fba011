"""Training throughput (samples/s), measured from the loop itself rather than estimated."""

from __future__ import annotations

import time

import lightning as L

from reaction.data.batch import Batch
from reaction.metrics import keys


class TrainThroughput(L.Callback):
    """Samples per second over the training batches of each epoch.

    The clock runs from the epoch start to the end of its last training batch, so data loading is
    included and the validation pass that follows is not. The last epoch's value is kept in
    ``samples_per_s`` for the cost report.
    """

    def __init__(self) -> None:
        self.samples_per_s: float | None = None
        self._start = 0.0
        self._last_end = 0.0
        self._samples = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = self._last_end = time.perf_counter()
        self._samples = 0

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs,
        batch: Batch,
        batch_idx: int,
    ) -> None:
        self._samples += len(batch)
        self._last_end = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        elapsed = self._last_end - self._start
        if self._samples == 0 or elapsed <= 0:
            return
        # Each rank sees its own shard; the global rate is the sum over ranks.
        self.samples_per_s = self._samples * trainer.world_size / elapsed
        pl_module.log(keys.TRAIN_SAMPLES_PER_S, self.samples_per_s, rank_zero_only=True)
