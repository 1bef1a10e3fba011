"""DNN: embeddings concatenated into an MLP, the implicit-interaction baseline (BARS "DNN")."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel, ModelOutput
from reaction.models.layers.embedding import flat_input_embedding
from reaction.models.layers.mlp import MLP


class DNN(CTRModel):
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
        return self._logits(self.embedding(features))

    def forward_train(self, features: torch.Tensor, with_hidden: bool = False) -> ModelOutput:
        """The logits and the embedding's loss terms (AFE's bottleneck KL, if any)."""
        if with_hidden:
            return super().forward_train(features, with_hidden)
        x, losses = self.embedding.forward_with_losses(features)
        return ModelOutput(self._logits(x).unsqueeze(0), aux_losses=losses)

    def _logits(self, embedded: torch.Tensor) -> torch.Tensor:
        return self.head(self.tower(embedded.flatten(start_dim=1))).squeeze(-1)
