"""FmFM / FM^2 (Sun et al., WWW 2021): FM with a learned matrix per field pair."""

from __future__ import annotations

import torch

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.factorization import FieldMatrixedInteraction
from reaction.models.layers.linear import FirstOrder


class FmFM(CTRModel):
    """``logit = b + sum_f w_f[x_f] + sum_{i<j} v_i M_{F(i),F(j)} v_j^T``.

    ``(B, F) -> embeddings (B, F, D) -> field-matrixed pairwise term (B,)`` plus the first-order
    term. A ``D x D`` matrix per field pair generalises FwFM's scalar ``r_ij`` (``M = r I``): each
    field pair gets its own bilinear form, which the paper shows rivals FFM at a fraction of its
    embedding size. All fields share one ``D`` (the paper's per-field variable dimensions are not
    implemented).
    """

    def __init__(
        self, feature_map: FeatureMap, embedding_dim: int = 16, init_std: float = 1e-4
    ) -> None:
        super().__init__()
        self.linear = FirstOrder(feature_map.vocab_sizes, init_std=init_std)
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = FieldMatrixedInteraction(feature_map.num_fields, embedding_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        return self.linear(features) + self.interaction(self.embedding(features))
