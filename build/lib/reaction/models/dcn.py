"""DCN (Wang et al., ADKDD 2017): a rank-1 cross network in parallel with a DNN."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.interactions import CrossNet
from reaction.models.layers.mlp import MLP


class DCN(CTRModel):
    """``(B, F) -> x_0 (B, F*D) -> [cross(x_0) (B, F*D) || tower(x_0) (B, H)] -> head (B,)``.

    The paper's combination layer (Wang et al. 2017, eq. 5) on its cross network (eq. 3): the
    cross part builds bounded-degree crosses explicitly with ``2 F D`` parameters per layer, the
    deep part learns the rest implicitly. ``hidden_units=()`` gives the cross-network-only model.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        num_cross_layers: int = 3,
        hidden_units: Sequence[int] = (400, 400, 400),
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        input_dim = feature_map.num_fields * embedding_dim
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = CrossNet(input_dim, num_cross_layers)
        self.use_deep = len(hidden_units) > 0
        self.tower = MLP(
            input_dim, hidden_units, dropout=dropout, batch_norm=batch_norm, activation=activation
        )
        head_dim = self.interaction.output_dim + (self.tower.output_dim if self.use_deep else 0)
        self.head = nn.Linear(head_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        x0 = self.embedding(features).flatten(start_dim=1)
        h = self.interaction(x0)
        if self.use_deep:
            h = torch.cat([h, self.tower(x0)], dim=1)
        return self.head(h).squeeze(-1)
