"""APG (Yan et al., NeurIPS 2022): a DNN whose hidden-layer weights are generated per instance."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.apg import APGMLP
from reaction.models.layers.embedding import FieldEmbedding


class APG(CTRModel):
    """``(B, F) -> e (B, F*D) -> APG tower(e | z) (B, H) -> head (B,)``.

    The DNN baseline with each hidden ``Linear`` replaced by an ``APGLinear`` whose weights
    ``W_x = U S_x V`` are generated from a condition ``z``: by default the flattened embeddings
    of all fields, or of the fields named in ``condition_fields`` (the paper's group-wise
    condition, e.g. user or scenario fields). The condition reads the same embedding table as the
    tower (FuxiCTR's ``new_condition_emb=False``).

    Default variant: the paper's APG with low-rank parameterisation and shared ``U``/``V``
    (``rank`` 32, FuxiCTR's APG default), no over-parameterisation (``overparam_dim=None``; set
    it for the paper's over-parameterised training), shared (not generated) biases. The
    hypernetwork hidden units ``[512, 256]`` are FuxiCTR's APG config templates.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        hidden_units: Sequence[int] = (400, 400, 400),
        condition_fields: Sequence[str] = (),
        rank: int = 32,
        hypernet_hidden_units: Sequence[int] = (512, 256),
        overparam_dim: int | None = None,
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        names = feature_map.field_names
        unknown = [f for f in condition_fields if f not in names]
        if unknown:
            raise ValueError(f"condition_fields names fields not in the feature map: {unknown}")
        if len(set(condition_fields)) != len(condition_fields):
            raise ValueError(f"condition_fields repeats fields: {list(condition_fields)}")
        index = [names.index(f) for f in condition_fields] or list(range(len(names)))
        self.register_buffer(
            "condition_fields", torch.tensor(index, dtype=torch.long), persistent=False
        )
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.tower = APGMLP(
            feature_map.num_fields * embedding_dim,
            hidden_units,
            condition_dim=len(index) * embedding_dim,
            rank=rank,
            hypernet_hidden_units=hypernet_hidden_units,
            overparam_dim=overparam_dim,
            dropout=dropout,
            batch_norm=batch_norm,
            activation=activation,
        )
        self.head = nn.Linear(self.tower.output_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        e = self.embedding(features)
        condition = e.index_select(1, self.condition_fields).flatten(start_dim=1)
        return self.head(self.tower(e.flatten(start_dim=1), condition)).squeeze(-1)
