"""Stop at the first non-finite training loss, before it reaches the weights or a checkpoint."""

from __future__ import annotations

import lightning as L
import torch


class NonFiniteLossError(FloatingPointError):
    """Raised when a training loss is NaN or infinite; the message names the step."""


class NonFiniteLossGuard(L.Callback):
    """Checks every training loss before ``backward`` and stops the run on NaN/inf.

    Checking before the backward pass means the optimizer never applies a NaN update, so the
    checkpoints already on disk (``last.ckpt``, the best one) are the last good state, and no
    checkpoint callback writes afterwards. Under DDP the decision is reduced over ranks, so all
    ranks stop at the same step instead of one waiting forever in the gradient all-reduce.
    """

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        if not trainer.strategy.reduce_boolean_decision(bad, all=False):
            return
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or "none yet"
        raise NonFiniteLossError(
            f"non-finite training loss ({float(loss.detach().float().mean())}) at global step "
            f"{trainer.global_step} (epoch {trainer.current_epoch}, batch "
            f"{trainer.fit_loop.epoch_loop.batch_progress.current.ready - 1}); stopped before the "
            f"update. The checkpoints on disk hold the last good state (best: {best}); resume "
            f"with a lower learning rate or gradient clipping (trainer.gradient_clip_val)"
        )
