"""DCN-V2 (Wang et al., WWW 2021): an explicit cross network combined with a deep MLP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.interactions import CrossNetV2
from reaction.models.layers.mlp import MLP

Structure = Literal["stacked", "parallel"]


class DCNv2(CTRModel):
    """``(B, F) -> x_0 (B, F*D) -> cross/deep -> head (B,)``, the paper's two structures.

    ``stacked``: ``head(tower(interaction(x_0)))``; the deep part refines the crosses.
    ``parallel``: ``head([interaction(x_0) || tower(x_0)])``; the BARS/FuxiCTR default.
    ``hidden_units=()`` with ``stacked`` gives the cross-network-only variant (DCN-V2 "CrossNet").
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        structure: Structure = "parallel",
        num_cross_layers: int = 3,
        low_rank: int | None = None,
        hidden_units: Sequence[int] = (400, 400, 400),
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if structure not in ("stacked", "parallel"):
            raise ValueError(f"structure must be 'stacked' or 'parallel', got {structure!r}")
        if structure == "parallel" and not hidden_units:
            raise ValueError(
                "parallel DCNv2 needs a deep part, got hidden_units=(); "
                "use structure='stacked' for the cross-network-only model"
            )
        self.structure = structure
        input_dim = feature_map.num_fields * embedding_dim
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = CrossNetV2(input_dim, num_cross_layers, low_rank=low_rank)
        self.tower = MLP(
            input_dim, hidden_units, dropout=dropout, batch_norm=batch_norm, activation=activation
        )
        head_dim = self.tower.output_dim
        if structure == "parallel":
            head_dim += self.interaction.output_dim
        self.head = nn.Linear(head_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        x0 = self.embedding(features).flatten(start_dim=1)
        if self.structure == "stacked":
            h = self.tower(self.interaction(x0))
        else:
            h = torch.cat([self.interaction(x0), self.tower(x0)], dim=1)
        return self.head(h).squeeze(-1)
