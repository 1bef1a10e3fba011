"""Drives DTF's "dynamic" part: sets the fusion weights' multiplier every step and logs it."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from reaction.fusion.objective import FusionObjective
from reaction.models.layers.reparam_towers import ReparamTowers

FUSION_SCALE = "fusion/scale"
REPARAM_SCALE = "fusion/reparam_s"


def training_progress(trainer: L.Trainer) -> float:
    """Optimizer steps done / planned; by epochs when the loader has no length (streaming)."""
    planned = trainer.estimated_stepping_batches
    if math.isfinite(planned) and planned > 0:
        return trainer.global_step / planned
    return trainer.current_epoch / max(trainer.max_epochs or 1, 1)


class FusionScheduleCallback(Callback):
    """``objective.scale = schedule(progress)`` before each training batch; logs ``fusion/*``.

    With ``fusion=reparam`` the towers' difference scale is ``s = 1 - schedule(progress)``.

    Does nothing without fusion (``fusion=none``: nothing to schedule).
    """

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        objective: FusionObjective = pl_module.objective
        cfg = objective.cfg
        if cfg.kind == "none":
            return
        objective.scale = cfg.schedule(training_progress(trainer))
        if cfg.kind == "reparam":  # the towers' differences fade as the schedule ramps up
            for module in pl_module.modules():
                if isinstance(module, ReparamTowers):
                    module.set_scale(1.0 - objective.scale)
            pl_module.log(REPARAM_SCALE, 1.0 - objective.scale, on_step=True, on_epoch=False)
        weights = {"alpha": cfg.alpha, "beta": cfg.beta, "gamma": cfg.gamma}
        logged = {FUSION_SCALE: objective.scale}
        logged.update({f"fusion/{k}": objective.scale * w for k, w in weights.items()})
        pl_module.log_dict(logged, on_step=True, on_epoch=False)
