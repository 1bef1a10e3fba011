"""CTR quality metrics as torchmetrics objects, so they sync correctly across DDP ranks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
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


class TowerMetrics(nn.Module):
    """AUC/logloss of every tower of a multi-tower model and of the towers' average prediction.

    ``{stage}/tower{k}/auc`` per tower and ``{stage}/towers_mean/auc`` for the mean probability
    (a reference that is not served). Computed and reset by the caller at epoch end (synced
    across DDP ranks by torchmetrics), because the served tower is chosen from these numbers.
    """

    def __init__(self, stage: str, num_towers: int, auc_thresholds: int | None = None) -> None:
        super().__init__()
        self.towers = nn.ModuleList(
            ctr_metrics(f"{stage}/tower{k}/", auc_thresholds) for k in range(num_towers)
        )
        # one tower: its mean is itself (not stored twice: exact AUC keeps every prediction)
        self.mean = ctr_metrics(f"{stage}/towers_mean/", auc_thresholds) if num_towers > 1 else None

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """``logits``: ``(T, B)``."""
        for metrics, z in zip(self.towers, logits, strict=True):
            metrics.update(z, labels)
        if self.mean is not None:
            p = torch.sigmoid(logits.float()).mean(0).clamp(1e-7, 1 - 1e-7)
            self.mean.update(torch.logit(p), labels)

    def compute_and_reset(self) -> tuple[dict[str, float], list[float]]:
        """``({key: value}, per-tower AUC)``."""
        values: dict[str, float] = {}
        for metrics in [*self.towers, *([self.mean] if self.mean is not None else [])]:
            values.update({k: float(v) for k, v in metrics.compute().items()})
            metrics.reset()
        aucs = [values[f"{m.prefix}auc"] for m in self.towers]
        return values, aucs
