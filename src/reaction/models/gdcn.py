"""GDCN (Wang et al., CIKM 2023): DCN-V2's structure with the gated cross network."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.gated_cross import GatedCrossNet
from reaction.models.layers.mlp import MLP

Structure = Literal["stacked", "parallel"]


class GDCN(CTRModel):
    """``(B, F) -> x_0 (B, F*D) -> gated cross / deep -> (B,)``, the paper's GDCN-S and GDCN-P.

    ``stacked`` (GDCN-S, FuxiCTR's ``GDCN``): ``tower(cross(x_0))`` with the tower's own output
    layer as head. ``parallel`` (GDCN-P, FuxiCTR's ``GDCNP``): ``head([cross(x_0) ||
    tower(x_0)])``. ``hidden_units=()`` with ``stacked`` is the cross-network-only GCN.
    Defaults: three gated layers and the zoo's ``[400, 400, 400]`` tower (as DCNv2).
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        structure: Structure = "stacked",
        num_cross_layers: int = 3,
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
            raise ValueError("parallel GDCN needs a deep part, got hidden_units=()")
        self.structure = structure
        input_dim = feature_map.num_fields * embedding_dim
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = GatedCrossNet(input_dim, num_cross_layers)
        mlp = {"dropout": dropout, "batch_norm": batch_norm, "activation": activation}
        if structure == "stacked":
            self.tower = MLP(input_dim, hidden_units, output_dim=1, **mlp)
            self.head: nn.Module = nn.Identity()
        else:
            self.tower = MLP(input_dim, hidden_units, **mlp)
            self.head = nn.Linear(self.tower.output_dim + input_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        x0 = self.embedding(features).flatten(start_dim=1)
        if self.structure == "stacked":
            return self.tower(self.interaction(x0)).squeeze(-1)
        return self.head(torch.cat([self.interaction(x0), self.tower(x0)], dim=1)).squeeze(-1)
