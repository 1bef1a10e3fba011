"""DCNv3 (Li et al., arXiv 2407.13349): linear and exponential cross networks with self-mask,
no MLP, trained with Tri-BCE (reference: salmon1802/DCNv3 ``src/DCNv3.py``)."""

from __future__ import annotations

import functools

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel, ModelOutput
from reaction.models.layers.branch_losses import tri_bce
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.self_mask_cross import SelfMaskCrossNet


class DCNv3(CTRModel):
    """``(B, F) -> x_0 (B, N, F*D) -> [ECN, LCN] -> head each (B,) -> mean (B,)``.

    Each field gets ``N * D`` embedding columns, split into ``N`` heads of width ``D``; a head
    is the ``F * D`` vector of its columns, and both networks (weights shared across heads)
    cross it. Each branch's linear head gives one logit per head, averaged over heads; the model
    serves the mean of the deep (ECN) and shallow (LCN) logits. In training the branch logits go
    to ``tri_bce`` as a label term of the model output, so each branch is also supervised while
    it is worse than their ensemble.

    Deviation from the reference: it reorders each head's vector into the first halves of all
    fields' columns, then the second halves; a fixed permutation of learned embedding columns,
    so the model class is the same and it is not reproduced. Defaults are the reference's
    ``DCNv3_Criteo`` settings with our ``embedding_dim`` 16 (as theirs).
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        num_heads: int = 1,
        num_deep_cross_layers: int = 3,
        num_shallow_cross_layers: int = 4,
        deep_dropout: float = 0.1,
        shallow_dropout: float = 0.2,
        layer_norm: bool = True,
        batch_norm: bool = False,
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if num_heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        self.num_heads = int(num_heads)
        self.embedding = FieldEmbedding(
            feature_map.vocab_sizes, embedding_dim * self.num_heads, init_std=init_std
        )
        width = feature_map.num_fields * embedding_dim
        shared = {"layer_norm": layer_norm, "batch_norm": batch_norm, "num_heads": self.num_heads}
        self.deep = SelfMaskCrossNet(
            width, num_deep_cross_layers, exponential=True, dropout=deep_dropout, **shared
        )
        self.shallow = SelfMaskCrossNet(
            width, num_shallow_cross_layers, exponential=False, dropout=shallow_dropout, **shared
        )
        self.deep_head = nn.Linear(width, 1)
        self.shallow_head = nn.Linear(width, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        deep, shallow = self._branches(features)
        return (deep + shallow) / 2

    def forward_train(self, features: torch.Tensor, with_hidden: bool = False) -> ModelOutput:
        """The served logits and, in training, Tri-BCE's branch terms on the labels."""
        if with_hidden:
            return super().forward_train(features, with_hidden)
        deep, shallow = self._branches(features)
        terms = {"tri_bce": functools.partial(tri_bce, deep, shallow)} if self.training else {}
        return ModelOutput(((deep + shallow) / 2).unsqueeze(0), label_losses=terms)

    def _branches(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B,)`` deep (ECN) and shallow (LCN) logits."""
        e = self.embedding(features)  # (B, F, N*D)
        batch, fields, _ = e.shape
        x0 = e.view(batch, fields, self.num_heads, -1).transpose(1, 2).flatten(start_dim=2)
        deep = self.deep_head(self.deep(x0)).mean(dim=(1, 2))
        shallow = self.shallow_head(self.shallow(x0)).mean(dim=(1, 2))
        return deep, shallow
