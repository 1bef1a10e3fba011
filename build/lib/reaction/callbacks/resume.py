"""What a checkpoint needs so that a resumed run ends exactly like an uninterrupted one.

Lightning checkpoints weights, optimizer, schedulers, loops and callback states, but not the
global RNGs: after a resume, dropout masks (and anything else drawn from torch/numpy/random)
would differ from the uninterrupted run and so would its final metrics. And a checkpoint taken
after an epoch's last batch but before its validation resumes into the next epoch without ever
validating that one (Lightning treats the epoch as done), which changes early stopping.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from reaction.runs.checkpoint import read_checkpoint


class RNGStateCallback(L.Callback):
    """Saves torch (CPU and CUDA), numpy and ``random`` states; restores them on load."""

    def state_dict(self) -> dict[str, Any]:
        # Plain tensors/lists/tuples only: Lightning loads checkpoints with ``weights_only=True``,
        # which refuses numpy arrays.
        name, key, pos, has_gauss, cached = np.random.get_state()
        state: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": (name, key.tolist(), pos, has_gauss, cached),
            "python": random.getstate(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        name, key, pos, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((name, np.asarray(key, dtype=np.uint32), pos, has_gauss, cached))
        random.setstate(state_dict["python"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class MidEpochCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint(every_n_train_steps=...)`` that never saves on an epoch's last batch.

    The epoch-end checkpoint (after validation) follows moments later; a save in between would
    be the one a preempted run resumes from, and it would skip that epoch's validation.
    """

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


# What a resumed run must share with its checkpoint; the rest (trainer length, loggers, paths,
# callbacks, evaluation settings) may change between the interrupted and the resumed command.
RESUMABLE_SECTIONS = ("data", "afe", "fusion", "model", "module", "seed")


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        return {
            k: v
            for key, value in node.items()
            for k, v in _flatten(value, f"{prefix}{key}.").items()
        }
    return {prefix.rstrip("."): node}


class RunConfigRecord(L.Callback):
    """Stores the run's config in every checkpoint; ``check`` refuses to resume under another.

    ``resume=auto`` continues whatever checkpoint the run directory holds; re-using a directory
    for a different model or data would otherwise fail deep inside ``load_state_dict`` (or, for
    a changed learning rate, silently mix two experiments).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = {k: config[k] for k in RESUMABLE_SECTIONS if k in config}

    def state_dict(self) -> dict[str, Any]:
        return {"config": self.config}

    def check(self, checkpoint: str | Path) -> None:
        """Raise before any state is restored if ``checkpoint`` was trained with another config."""
        # mmap: only the callback states are read, not the (possibly huge) embedding tables
        state = read_checkpoint(checkpoint, mmap=True)
        saved = state.get("callbacks", {}).get(self.state_key)
        if saved is None:
            return  # a checkpoint from before this record existed
        old, new = _flatten(saved["config"]), _flatten(self.config)
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if changed:
            detail = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:8])
            raise ValueError(
                f"{checkpoint} was trained with another config ({detail}); use a new "
                f"hydra.run.dir, or resume=never to start over in this one"
            )
