"""xDeepFM (Lian et al., KDD 2018): first-order term + CIN (explicit) + DNN (implicit)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.cin import CompressedInteractionNet
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.linear import FirstOrder
from reaction.models.layers.mlp import MLP


class XDeepFM(CTRModel):
    """``(B, F) -> E (B, F, D) -> [CIN p^+ || tower(flatten E)] -> head + first order -> (B,)``.

    The paper's output unit: ``logit = w_lin^T a + w_cin^T p^+ + w_dnn^T x_dnn + b``. The
    first-order ``FirstOrder`` layer holds ``b``, so the head has no bias. CIN gives bounded-degree
    vector-wise interactions, the DNN the implicit bit-wise ones; both read the same embeddings.
    ``hidden_units=()`` drops the DNN (CIN plus the linear term).
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        cin_hidden_units: Sequence[int] = (32, 32, 32),
        cin_split_half: bool = False,
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
        self.interaction = CompressedInteractionNet(
            num_fields, cin_hidden_units, split_half=cin_split_half
        )
        head_dim = self.interaction.output_dim
        self.tower: MLP | None = None
        if hidden_units:
            self.tower = MLP(
                num_fields * embedding_dim,
                hidden_units,
                dropout=dropout,
                batch_norm=batch_norm,
                activation=activation,
            )
            head_dim += self.tower.output_dim
        self.head = nn.Linear(head_dim, 1, bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        e = self.embedding(features)
        h = self.interaction(e)
        if self.tower is not None:
            h = torch.cat([h, self.tower(e.flatten(start_dim=1))], dim=1)
        return self.head(h).squeeze(-1) + self.linear(features)
