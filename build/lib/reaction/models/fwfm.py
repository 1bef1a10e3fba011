"""FwFM (Pan et al., WWW 2018): FM with a learned weight per field pair."""

from __future__ import annotations

import torch

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.factorization import FieldWeightedInteraction
from reaction.models.layers.linear import FirstOrder


class FwFM(CTRModel):
    """``logit = b + sum_f w_f[x_f] + sum_{i<j} <v_i, v_j> r_{F(i),F(j)}``.

    ``(B, F) -> embeddings (B, F, D) -> field-weighted pairwise term (B,)`` plus the first-order
    term. ``P = F (F - 1) / 2`` scalars ``r`` let field pairs differ in strength, at a tiny
    fraction of FFM's parameters. The first-order term is the paper's per-feature ``w_i`` ("LW";
    FuxiCTR's default is the field-level ``FiLV`` variant instead).
    """

    def __init__(
        self, feature_map: FeatureMap, embedding_dim: int = 16, init_std: float = 1e-4
    ) -> None:
        super().__init__()
        self.linear = FirstOrder(feature_map.vocab_sizes, init_std=init_std)
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = FieldWeightedInteraction(feature_map.num_fields)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        return self.linear(features) + self.interaction(self.embedding(features))
