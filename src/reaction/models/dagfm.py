"""DAGFM (Tian et al., "Directed Acyclic Graph Factorization Machines for CTR Prediction via
Knowledge Distillation", WSDM 2023): the lightweight student of KD-DAGFM and KD-DAGFM+."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.dag_propagation import DAGPropagation
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.mlp import MLP


class DAGFM(CTRModel):
    """``(B, F) -> E (B, F, D) -> DAG states h_0..h_depth -> (B,)``.

    Plain (``hidden_units`` empty, KD-DAGFM): every state is summed over ``D`` and the
    ``F (depth + 1)`` values go through one ``Linear`` -- explicit interactions up to order
    ``depth + 1`` only, which is what the paper distils from a cross-network teacher. Plus
    (KD-DAGFM+): ``sum_t h_t`` flattened ``(B, F D)`` feeds an MLP instead, adding the implicit
    interactions a deep teacher also knows (the official ``DeepDAGFM``). The student is trained
    from a teacher with ``fusion=kd_dagfm`` (logit matching).
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        depth: int = 3,
        interaction: str = "outer",
        hidden_units: Sequence[int] = (),
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        fields = feature_map.num_fields
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.propagation = DAGPropagation(fields, embedding_dim, depth, interaction)
        self.deep = bool(hidden_units)
        width = fields * embedding_dim if self.deep else fields * (depth + 1)
        self.head = MLP(width, hidden_units, dropout, batch_norm, activation, output_dim=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        states = self.propagation(self.embedding(features))
        if self.deep:
            x = torch.stack(states).sum(dim=0).flatten(start_dim=1)  # (B, F D)
        else:
            x = torch.cat([h.sum(dim=-1) for h in states], dim=1)  # (B, F (depth + 1))
        return self.head(x).squeeze(-1)
