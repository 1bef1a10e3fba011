"""DNN: embeddings concatenated into an MLP, the implicit-interaction baseline (BARS "DNN")."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.layers.embedding import flat_input_embedding
from reaction.models.layers.mlp import MLP


class DNN(nn.Module):
    """``(B, F) -> embedding (B, F, D) -> flatten (B, F*D) -> tower (B, H) -> head (B,)``.

    The closest baseline to a single REACTION tower: interactions are learned only implicitly by
    the MLP. ``embedding`` replaces the per-field table by any module mapping ``(B, F)`` ids to
    ``(B, K)`` with a ``flat_dim`` (AFE's mixed sizes / subspace projection).
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
        embedding: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.embedding = flat_input_embedding(
            feature_map.vocab_sizes, embedding_dim, init_std, embedding
        )
        self.tower = MLP(
            self.embedding.flat_dim,
            hidden_units,
            dropout=dropout,
            batch_norm=batch_norm,
            activation=activation,
        )
        self.head = nn.Linear(self.tower.output_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        x = self.embedding(features).flatten(start_dim=1)
        return self.head(self.tower(x)).squeeze(-1)
