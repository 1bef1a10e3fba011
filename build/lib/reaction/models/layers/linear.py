"""The first-order (linear) term shared by LR, FM, Wide&Deep, DeepFM, xDeepFM and friends."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.models.layers.embedding import FieldEmbedding


class FirstOrder(nn.Module):
    """``(B, F)`` ids -> ``(B,)``: ``b + sum_f w_f[x_f]``, one learned weight per (field, id).

    The per-id weights are a 1-d ``FieldEmbedding``, so they count as embedding parameters and
    share the sparse optimizer group; the bias is dense.
    """

    def __init__(self, vocab_sizes: Sequence[int], init_std: float = 1e-4) -> None:
        super().__init__()
        self.weights = FieldEmbedding(vocab_sizes, 1, init_std=init_std)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)``."""
        return self.weights(features).sum(dim=(1, 2)) + self.bias
