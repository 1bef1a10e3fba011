"""What a run prints about its model before training: parameters and measured FLOPs.

Replaces Lightning's module summary, whose FLOPs column reads 0 for every model (it counts only
with an ``example_input_array``, which CTR models do not have) -- wrong in a framework whose
point is FLOP counts. Here the trained net and its served module are both measured on a small
batch of real-shaped ids with the same counter as ``results.json``.
"""

from __future__ import annotations

import logging

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only

from reaction.metrics import keys
from reaction.metrics.costs import count_parameters, flops_per_sample

log = logging.getLogger(__name__)

PROBE_ROWS = 8


class CostSummary(L.Callback):
    """Logs, once at fit start on rank zero, the parameters (embedding / dense) of the trained
    net and of the served module, and the served module's inference FLOPs per sample."""

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        net, served = pl_module.net, pl_module.net.served()
        num_fields = trainer.datamodule.feature_map.num_fields
        ids = torch.zeros(PROBE_ROWS, num_fields, dtype=torch.long, device=pl_module.device)
        log.info("trained %s: %s", type(net).__name__, _params(net))
        log.info(
            "served %s: %s, %s FLOPs/sample",
            type(served).__name__,
            _params(served),
            f"{flops_per_sample(served, ids):,.0f}",
        )


def _params(model: torch.nn.Module) -> str:
    counts = count_parameters(model)
    return (
        f"{counts[keys.PARAMS_TOTAL]:,} params (embedding {counts[keys.PARAMS_EMBEDDING]:,}, "
        f"dense {counts[keys.PARAMS_DENSE]:,})"
    )
