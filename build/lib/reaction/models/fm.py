"""FM (Rendle, ICDM 2010): first-order weights plus factorized pairwise interactions."""

from __future__ import annotations

import torch

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.factorization import FMInteraction, num_pairs
from reaction.models.layers.linear import FirstOrder


class FM(CTRModel):
    """``logit = b + sum_f w_f[x_f] + sum_{i<j} <v_i, v_j>`` (Rendle 2010, eq. 1).

    ``(B, F) -> embeddings (B, F, D) -> sum-square pairwise term (B,)`` plus the first-order term.
    Each pair weight is the inner product of two ``D``-dim factors, so pairs never seen together
    in training still get a weight; the sum-square trick makes the term ``O(F D)``.
    """

    def __init__(
        self, feature_map: FeatureMap, embedding_dim: int = 16, init_std: float = 1e-4
    ) -> None:
        super().__init__()
        num_pairs(feature_map.num_fields)  # validates F >= 2
        self.linear = FirstOrder(feature_map.vocab_sizes, init_std=init_std)
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = FMInteraction()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        return self.linear(features) + self.interaction(self.embedding(features))
