"""FiGNN (Li et al., CIKM 2019): feature interactions as message passing on a field graph."""

from __future__ import annotations

import torch

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.graph import AttentionalScoring, FieldGraph


class FiGNN(CTRModel):
    """``(B, F) -> E (B, F, D) -> field graph (B, F, D) -> attentional scoring (B,)``.

    Each field is a node of a fully connected graph with attentional edge weights; ``gnn_layers``
    steps of edge-wise message passing with a GRU update and a residual to the embeddings model
    interactions up to order ``gnn_layers + 1``. The logit is the attention-weighted
    sum of per-node scores. No DNN, no first-order term, as the paper and FuxiCTR.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        gnn_layers: int = 3,
        use_gru: bool = True,
        use_residual: bool = True,
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if gnn_layers < 1:
            raise ValueError(f"gnn_layers must be >= 1, got {gnn_layers}")
        num_fields = feature_map.num_fields
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = FieldGraph(
            num_fields,
            embedding_dim,
            num_layers=gnn_layers,
            use_gru=use_gru,
            use_residual=use_residual,
        )
        self.head = AttentionalScoring(num_fields, embedding_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        return self.head(self.interaction(self.embedding(features)))
