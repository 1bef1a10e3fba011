"""FiBiNET (Huang et al., RecSys 2019): SENET field importance + bilinear interactions + DNN."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.linear import FirstOrder
from reaction.models.layers.mlp import MLP
from reaction.models.layers.senet import BilinearInteraction, BilinearType, SqueezeExcitation


class FiBiNET(CTRModel):
    """``(B, F) -> E (B, F, D) -> [bilinear(E) || bilinear(SENET(E))] (B, 2 P D) -> DNN (B,)``.

    ``P = F (F - 1) / 2`` pairs. SENET re-weights the fields; two bilinear layers with their own
    weights (as FuxiCTR and DeepCTR) read the raw and the re-weighted embeddings; the combination
    layer concatenates them into the DNN, and the first-order term is added to the logit (the
    paper's output unit). ``FirstOrder`` holds the bias, so the head has none. ``hidden_units=()``
    is the paper's shallow FiBiNET (a linear head on the pairs).

    The DNN input is ``F (F - 1) D`` wide, e.g. 24 960 for 40 fields and ``D = 16``: the first
    hidden layer dominates the dense parameter count.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        reduction_ratio: float = 3.0,
        excitation_activation: str = "relu",
        bilinear_type: BilinearType = "field_interaction",
        hidden_units: Sequence[int] = (400, 400, 400),
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        num_fields = feature_map.num_fields
        self.linear = FirstOrder(feature_map.vocab_sizes, init_std=init_std)
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.senet = SqueezeExcitation(num_fields, reduction_ratio, excitation_activation)
        self.bilinear = BilinearInteraction(num_fields, embedding_dim, bilinear_type)
        self.senet_bilinear = BilinearInteraction(num_fields, embedding_dim, bilinear_type)
        self.tower = MLP(
            2 * self.bilinear.num_pairs * embedding_dim,
            hidden_units,
            dropout=dropout,
            batch_norm=batch_norm,
            activation=activation,
        )
        self.head = nn.Linear(self.tower.output_dim, 1, bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        e = self.embedding(features)
        p = self.bilinear(e)
        q = self.senet_bilinear(self.senet(e))
        h = torch.cat([p, q], dim=1).flatten(start_dim=1)
        return self.head(self.tower(h)).squeeze(-1) + self.linear(features)
