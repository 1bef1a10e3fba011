"""Logistic regression: the floor every CTR model must beat."""

from __future__ import annotations

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.layers.embedding import FieldEmbedding


class LR(nn.Module):
    """``logit = b + sum_f w_f[x_f]``: one learned weight per (field, id), no interactions.

    The per-id weights are a 1-d ``FieldEmbedding``, so they count as embedding parameters and
    share the sparse optimizer group, exactly like the first-order term of FM/Wide&Deep.
    """

    def __init__(self, feature_map: FeatureMap, init_std: float = 1e-4) -> None:
        super().__init__()
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, 1, init_std=init_std)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        return self.embedding(features).sum(dim=(1, 2)) + self.bias
