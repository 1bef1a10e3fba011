"""Test-only callbacks that a subprocess run loads by ``+callbacks.<name>._target_=...``."""

from __future__ import annotations

import os
import signal
from typing import Any

import lightning as L
import torch


class KillAtStep(L.Callback):
    """SIGKILLs its own process after ``step`` optimizer steps: a preemption, no clean-up."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class NaNLabelsAtStep(L.Callback):
    """Corrupts the labels of the batch at ``step``: a bad input row turns the loss into NaN."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: Any, batch: Any, *a: Any) -> None:
        if trainer.global_step == self.step:
            batch.labels[0, 0] = torch.nan
