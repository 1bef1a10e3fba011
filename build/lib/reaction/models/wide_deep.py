"""Wide & Deep (Cheng et al., DLRS 2016): a linear wide part trained jointly with a DNN."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.linear import FirstOrder
from reaction.models.layers.mlp import MLP


class WideDeep(CTRModel):
    """``logit = wide(x) + w_deep^T tower(embedding(x))`` (Cheng et al. 2016, eq. 3).

    Wide: the first-order term ``b + sum_f w_f[x_f]`` (memorisation); it carries the model's one
    bias, so the head has none. Deep: ``(B, F, D) -> flatten (B, F*D) -> tower (B, H) -> (B,)``
    (generalisation). The paper's wide part also takes hand-made cross-product features
    ``phi(x)``; like BARS/FuxiCTR we use the raw features only, since crosses would be
    dataset-specific feature engineering.
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
            raise ValueError(f"WideDeep needs a deep part, got hidden_units={tuple(hidden_units)}")
        self.linear = FirstOrder(feature_map.vocab_sizes, init_std=init_std)
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
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
        deep = self.head(self.tower(self.embedding(features).flatten(start_dim=1))).squeeze(-1)
        return self.linear(features) + deep
