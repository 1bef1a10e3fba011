"""AutoDis (Guo et al., KDD 2021): soft-discretised numeric-field embeddings on a DNN backbone."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.mlp import MLP
from reaction.models.layers.numeric import AutoDisEmbedding, numeric_bucket_values


class AutoDis(CTRModel):
    """``(B, F) -> [FieldEmbedding(categorical) || AutoDis(numeric)] (B, F, D) -> MLP -> (B,)``.

    AutoDis is an embedding method, not an interaction model: the paper plugs it into several
    backbones; here it sits on the DNN baseline so the comparison with ``DNN`` isolates how numeric
    fields are embedded. Fields of kind ``categorical`` use the shared ``FieldEmbedding``; fields of
    kind ``numeric`` use ``AutoDisEmbedding`` over their recorded bucket values (a numeric field
    without them raises ``ValueError`` naming it). The flattened input lists the categorical fields
    first, then the numeric ones, each in feature-map order. With no numeric fields the model is
    exactly ``DNN``.

    Defaults: backbone as our DNN (BARS-style ``[400, 400, 400]``); ``H = 20`` meta-embeddings,
    ``tau = 1``, ``alpha = 0.1`` are our starting point (the paper tunes ``H``, ``tau`` and
    ``alpha`` per dataset and reports no single setting to copy).
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        num_meta_embeddings: int = 20,
        temperature: float = 1.0,
        skip_alpha: float = 0.1,
        hidden_units: Sequence[int] = (400, 400, 400),
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        kinds = [field.kind for field in feature_map.fields]
        categorical = [i for i, kind in enumerate(kinds) if kind == "categorical"]
        numeric = [i for i, kind in enumerate(kinds) if kind == "numeric"]
        self.register_buffer(
            "categorical_fields", torch.tensor(categorical, dtype=torch.long), persistent=False
        )
        self.register_buffer(
            "numeric_fields", torch.tensor(numeric, dtype=torch.long), persistent=False
        )
        self.embedding: FieldEmbedding | None = None
        if categorical:
            vocab = [feature_map.vocab_sizes[i] for i in categorical]
            self.embedding = FieldEmbedding(vocab, embedding_dim, init_std=init_std)
        self.numeric: AutoDisEmbedding | None = None
        if numeric:
            names = [feature_map.field_names[i] for i in numeric]
            self.numeric = AutoDisEmbedding(
                numeric_bucket_values(feature_map, names),
                embedding_dim,
                num_meta_embeddings=num_meta_embeddings,
                temperature=temperature,
                skip_alpha=skip_alpha,
                init_std=init_std,
            )
        self.tower = MLP(
            feature_map.num_fields * embedding_dim,
            hidden_units,
            dropout=dropout,
            batch_norm=batch_norm,
            activation=activation,
        )
        self.head = nn.Linear(self.tower.output_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        parts = []
        if self.embedding is not None:
            parts.append(self.embedding(features.index_select(1, self.categorical_fields)))
        if self.numeric is not None:
            parts.append(self.numeric(features.index_select(1, self.numeric_fields)))
        x = torch.cat(parts, dim=1).flatten(start_dim=1)
        return self.head(self.tower(x)).squeeze(-1)
