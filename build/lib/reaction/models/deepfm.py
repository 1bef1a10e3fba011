"""DeepFM (Guo et al., IJCAI 2017): FM and a DNN reading the same embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.factorization import FMInteraction, num_pairs
from reaction.models.layers.linear import FirstOrder
from reaction.models.layers.mlp import MLP


class DeepFM(CTRModel):
    """``logit = y_FM + y_DNN`` (Guo et al. 2017, eq. 1-2), both from one embedding table.

    ``y_FM = b + sum_f w_f[x_f] + sum_{i<j} <v_i, v_j>`` captures low-order interactions
    explicitly; ``y_DNN = w^T tower(flatten(v))``, ``(B, F*D) -> (B, H) -> (B,)``, the high-order
    ones. Sharing ``v`` (unlike Wide&Deep's separate wide features) means no feature engineering
    and the FM term trains the embeddings the DNN reads. The first-order term carries the one
    bias, so the DNN head has none (FuxiCTR's DeepFM keeps a redundant second bias there).
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        hidden_units: Sequence[int] = (400, 400, 400),
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if not hidden_units:
            raise ValueError(f"DeepFM needs a deep part, got hidden_units={tuple(hidden_units)}")
        num_pairs(feature_map.num_fields)  # validates F >= 2
        self.linear = FirstOrder(feature_map.vocab_sizes, init_std=init_std)
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = FMInteraction()
        self.tower = MLP(
            feature_map.num_fields * embedding_dim,
            hidden_units,
            dropout=dropout,
            batch_norm=batch_norm,
            activation=activation,
        )
        self.head = nn.Linear(self.tower.output_dim, 1, bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        emb = self.embedding(features)  # (B, F, D)
        y_fm = self.linear(features) + self.interaction(emb)
        y_dnn = self.head(self.tower(emb.flatten(start_dim=1))).squeeze(-1)
        return y_fm + y_dnn
