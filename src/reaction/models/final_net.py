"""FinalNet (Zhu et al., SIGIR 2023): one or two FINAL blocks in place of MLPs
(reference: reczoo/FuxiCTR ``model_zoo/FinalNet/src/FinalNet.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel, ModelOutput
from reaction.models.layers.branch_losses import block_self_distillation
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.final_block import FieldGating, FinalBlock, Residual

BlockType = Literal["1B", "2B"]


class FinalNet(CTRModel):
    """``(B, F) -> e (B, F, D) -> [gate] -> block1 -> head1`` (+ ``block2 -> head2``) ``-> (B,)``.

    ``1B``: one FINAL block, optionally behind ``FieldGating`` (``[e || e * g]``, ``2 F D`` wide).
    ``2B``: a second block on the ungated embeddings and the mean of both blocks' logits; in
    training each block is also distilled towards that mean (``block_self_distillation`` as an
    auxiliary loss of the model output, the reference's extra loss terms). Defaults: 2B with gating
    and batch norm, no activation (the reference's template), with the zoo's ``[400, 400, 400]``
    widths.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        block_type: BlockType = "2B",
        use_field_gating: bool = True,
        block1_hidden_units: Sequence[int] = (400, 400, 400),
        block1_dropout: float = 0.0,
        block2_hidden_units: Sequence[int] = (400, 400, 400),
        block2_dropout: float = 0.0,
        activation: str | None = None,
        batch_norm: bool = True,
        residual: Residual = "concat",
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if block_type not in ("1B", "2B"):
            raise ValueError(f"block_type must be '1B' or '2B', got {block_type!r}")
        num_fields = feature_map.num_fields
        width = num_fields * embedding_dim
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.gating = FieldGating(num_fields) if use_field_gating else None
        block = {"residual": residual, "batch_norm": batch_norm, "activation": activation}
        self.block1 = FinalBlock(
            2 * width if use_field_gating else width,
            block1_hidden_units,
            dropout=block1_dropout,
            **block,
        )
        self.head1 = nn.Linear(self.block1.output_dim, 1)
        self.block2: FinalBlock | None = None
        if block_type == "2B":
            self.block2 = FinalBlock(width, block2_hidden_units, dropout=block2_dropout, **block)
            self.head2 = nn.Linear(self.block2.output_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        first, second = self._blocks(features)
        return first if second is None else (first + second) / 2

    def forward_train(self, features: torch.Tensor, with_hidden: bool = False) -> ModelOutput:
        """The served logits and, in training with two blocks, their self-distillation."""
        if with_hidden:
            return super().forward_train(features, with_hidden)
        first, second = self._blocks(features)
        if second is None:
            return ModelOutput(first.unsqueeze(0))
        terms = {"distillation": block_self_distillation(first, second)} if self.training else {}
        return ModelOutput(((first + second) / 2).unsqueeze(0), aux_losses=terms)

    def _blocks(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B,)`` logits of block 1 and (2B) block 2."""
        e = self.embedding(features)
        gated = e if self.gating is None else self.gating(e)
        first = self.head1(self.block1(gated.flatten(start_dim=1))).squeeze(-1)
        if self.block2 is None:
            return first, None
        return first, self.head2(self.block2(e.flatten(start_dim=1))).squeeze(-1)
