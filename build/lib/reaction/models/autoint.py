"""AutoInt+ (Song et al., CIKM 2019): self-attentive interacting layers plus a DNN."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.attention import MultiHeadSelfAttention
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.mlp import MLP


class AutoIntPlus(CTRModel):
    """``(B, F) -> E (B, F, D) -> [attention (B, F*A) || tower (B, H)] -> head (B,)``.

    ``attention_layers`` stacked ``MultiHeadSelfAttention`` blocks (residual ReLU output) turn field
    embeddings into interaction-aware ones; their flattened output is the AutoInt logit's input. The
    "+" adds a DNN on the flattened embeddings, trained jointly (AutoInt+ in the paper's
    experiments); one linear head over both equals the sum of their two logits. ``hidden_units=()``
    gives plain AutoInt. ``dropout`` applies to the attention weights and the DNN, as FuxiCTR's
    ``net_dropout``.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        attention_layers: int = 3,
        num_heads: int = 2,
        attention_dim: int = 64,
        use_residual: bool = True,
        use_scale: bool = False,
        layer_norm: bool = False,
        hidden_units: Sequence[int] = (400, 400, 400),
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if attention_layers < 1:
            raise ValueError(f"attention_layers must be >= 1, got {attention_layers}")
        num_fields = feature_map.num_fields
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.interaction = nn.Sequential(
            *(
                MultiHeadSelfAttention(
                    embedding_dim if i == 0 else attention_dim,
                    attention_dim,
                    num_heads=num_heads,
                    use_residual=use_residual,
                    use_scale=use_scale,
                    layer_norm=layer_norm,
                    dropout=dropout,
                )
                for i in range(attention_layers)
            )
        )
        head_dim = num_fields * attention_dim
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
        self.head = nn.Linear(head_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        e = self.embedding(features)
        h = self.interaction(e).flatten(start_dim=1)
        if self.tower is not None:
            h = torch.cat([h, self.tower(e.flatten(start_dim=1))], dim=1)
        return self.head(h).squeeze(-1)
