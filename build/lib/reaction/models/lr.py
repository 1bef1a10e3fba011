"""Logistic regression: the floor every CTR model must beat."""

from __future__ import annotations

import torch

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.linear import FirstOrder


class LR(CTRModel):
    """``logit = b + sum_f w_f[x_f]``: the first-order term alone, no interactions."""

    def __init__(self, feature_map: FeatureMap, init_std: float = 1e-4) -> None:
        super().__init__()
        self.linear = FirstOrder(feature_map.vocab_sizes, init_std=init_std)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        return self.linear(features)
