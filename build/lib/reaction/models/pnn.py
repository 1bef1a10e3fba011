"""PNN (Qu et al., ICDM 2016), inner-product variant IPNN: pairwise products fed to an MLP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.factorization import InnerProduct
from reaction.models.layers.mlp import MLP


class PNN(CTRModel):
    """``(B, F) -> [flatten(v) (B, F*D) || <v_i, v_j> (B, P)] -> tower (B, H) -> head (B,)``.

    The product layer's linear signals ``l_z`` and inner-product signals ``l_p`` (Qu et al. 2016,
    Sec. 3.1) are the first hidden layer applied to the concatenation, so ``l_1 = relu(l_z + l_p
    + b_1)`` is exactly ``tower``'s first ``Linear -> ReLU``. Feeding the products in explicitly
    hands the MLP the second-order signals it would otherwise have to learn to multiply. As in
    FuxiCTR, ``W_p`` is full rank (no low-rank decomposition).
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
            raise ValueError(f"PNN needs a product layer, got hidden_units={tuple(hidden_units)}")
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = InnerProduct(feature_map.num_fields)
        self.tower = MLP(
            feature_map.num_fields * embedding_dim + self.interaction.output_dim,
            hidden_units,
            dropout=dropout,
            batch_norm=batch_norm,
            activation=activation,
        )
        self.head = nn.Linear(self.tower.output_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        emb = self.embedding(features)  # (B, F, D)
        x = torch.cat([emb.flatten(start_dim=1), self.interaction(emb)], dim=1)
        return self.head(self.tower(x)).squeeze(-1)
