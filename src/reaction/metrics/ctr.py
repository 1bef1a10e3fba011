"""CTR quality metrics as torchmetrics objects, so they sync correctly across DDP ranks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import BinaryAUROC


class LogLoss(Metric):
    """Mean binary cross-entropy of predicted probabilities (the CTR literature's "logloss").

    Accumulated as a sum of per-sample losses and a count, so a distributed reduction is exact.
    Computed from logits for numerical safety (no ``log(0)`` at saturated probabilities).
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state(
            "loss_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        losses = F.binary_cross_entropy_with_logits(
            logits.float(), target.float(), reduction="none"
        )
        self.loss_sum += losses.double().sum()
        self.count += target.numel()

    def compute(self) -> torch.Tensor:
        return (self.loss_sum / self.count.clamp(min=1)).float()


class LogitAUROC(BinaryAUROC):
    """Binary AUROC fed with logits: AUC is rank-based, so the sigmoid is skipped entirely."""

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        super().update(torch.sigmoid(logits.float()), target.long())


def ctr_metrics(prefix: str, auc_thresholds: int | None = None) -> MetricCollection:
    """``{prefix}auc`` and ``{prefix}logloss``; ``auc_thresholds`` bins AUC for huge eval sets.

    With ``None`` the AUC is exact (all scores kept); a few thousand thresholds bound its memory.
    """
    return MetricCollection(
        {"auc": LogitAUROC(thresholds=auc_thresholds), "logloss": LogLoss()}, prefix=prefix
    )
