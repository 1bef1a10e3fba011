"""FinalMLP's building blocks (Mao et al., AAAI 2023): feature-selection gates, bilinear fusion.

A two-stream model only helps when its streams see the input differently. FinalMLP makes that
explicit: each stream re-weights the flattened embeddings with its own gate ("stream-specific
feature selection"), and the two stream outputs are fused by a multi-head bilinear form that
models their interaction instead of summing two logits ("stream-level interaction aggregation").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from reaction.models.layers.mlp import MLP


class FeatureSelectionGate(nn.Module):
    """``(B, d)`` flattened embeddings -> ``(B, d)``: ``e * 2 sigmoid(MLP(x_ctx))``.

    ``x_ctx`` is the stream's context: ``(B, context_dim)`` embeddings of chosen context fields
    (user- or item-specific gates) passed to ``forward``, or, with ``learned_context=True``, one
    learned vector ``(context_dim,)`` shared by all samples (the paper's "global" gate conditioned
    on learnable parameters). The factor 2 makes a gate whose logits are 0 the identity, so a
    gated stream starts near the plain stream and selection is learned as a deviation from it.

    ``mlp`` is ``Linear -> ReLU`` per hidden layer and a final ``Linear(.., d)``, as FuxiCTR's
    ``FeatureSelection`` gate. The learned context starts at ``N(0, init_std^2)``, not at
    FuxiCTR's zeros: with FuxiCTR's zero hidden biases a zero input keeps every hidden
    pre-activation at exactly 0, where ReLU's gradient is 0, so there the vector and the hidden
    layers never train (only the output bias does). Parameter counts are unaffected.
    """

    def __init__(
        self,
        input_dim: int,
        context_dim: int,
        hidden_units: Sequence[int] = (),
        learned_context: bool = False,
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if context_dim < 1:
            raise ValueError(f"context_dim must be >= 1, got {context_dim}")
        if init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {init_std}")
        self.input_dim = int(input_dim)
        self.context_dim = int(context_dim)
        self.mlp = MLP(self.context_dim, hidden_units, activation="relu", output_dim=input_dim)
        self.learned_context: nn.Parameter | None = None
        if learned_context:
            # (1, C), a leaf the MLP reads as is: a view of it made under no_grad would require
            # grad without a grad_fn, which breaks FlopCounterMode's module hooks.
            self.learned_context = nn.Parameter(torch.randn(1, self.context_dim) * init_std)

    def weights(self, batch_size: int, context: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, d)`` gate weights in ``(0, 2)``; ``context`` ``(B, context_dim)`` or None."""
        if self.learned_context is not None:
            if context is not None:
                raise ValueError("this gate uses its learned context; do not pass a context")
            # One context for every row: run the MLP once and broadcast its gate over the batch.
            gate = self.mlp(self.learned_context)
            return 2.0 * torch.sigmoid(gate).expand(batch_size, self.input_dim)
        if context is None:
            raise ValueError("this gate has no learned context; pass (B, context_dim) embeddings")
        return 2.0 * torch.sigmoid(self.mlp(context))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, d)``, ``(B, context_dim)`` or None -> ``(B, d)``."""
        return x * self.weights(x.shape[0], context)


class BilinearFusion(nn.Module):
    """``(B, X), (B, Y) -> (B,)``: FinalMLP's multi-head bilinear fusion.

    Both inputs are split into ``k`` heads, ``o_1 = [o_11 .. o_1k]``, ``o_2 = [o_21 .. o_2k]``:

    ``logit = sum_j (b_j + w_1j^T o_1j + w_2j^T o_2j + o_1j^T W_3j o_2j)``

    The linear parts concatenate over heads into one ``w_1 (X)`` and ``w_2 (Y)``; the per-head
    bilinear blocks ``W_3 (k, X/k, Y/k)`` are what heads buy: ``X*Y/k`` weights instead of ``X*Y``.
    The bias is held as the biases of the two linear maps (``first``, ``second``), FuxiCTR's
    ``InteractionAggregation`` layout: only their sum matters (the paper's ``sum_j b_j``), the
    redundant scalar is kept so counts match that reference. ``W_3`` starts at FuxiCTR's scale,
    Xavier-normal over all ``X*Y/k`` weights, so the bilinear term's variance does not grow with
    the head count.
    """

    def __init__(self, first_dim: int, second_dim: int, num_heads: int = 1) -> None:
        super().__init__()
        if first_dim < 1 or second_dim < 1:
            raise ValueError(f"input dims must be >= 1, got {first_dim} and {second_dim}")
        if num_heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        if first_dim % num_heads or second_dim % num_heads:
            raise ValueError(
                f"num_heads={num_heads} must divide both stream widths, "
                f"got {first_dim} and {second_dim}"
            )
        self.num_heads = int(num_heads)
        self.first_head_dim = first_dim // num_heads
        self.second_head_dim = second_dim // num_heads
        self.first = nn.Linear(first_dim, 1)
        self.second = nn.Linear(second_dim, 1)
        bilinear_size = self.num_heads * self.first_head_dim * self.second_head_dim
        self.bilinear = nn.Parameter(
            torch.randn(self.num_heads, self.first_head_dim, self.second_head_dim)
            * math.sqrt(2.0 / (bilinear_size + 1))
        )

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """``(B, X), (B, Y) -> (B,)``."""
        heads_1 = first.reshape(first.shape[0], self.num_heads, self.first_head_dim)
        heads_2 = second.reshape(second.shape[0], self.num_heads, self.second_head_dim)
        bilinear = torch.einsum("bhi,hij,bhj->b", heads_1, self.bilinear, heads_2)
        return (self.first(first) + self.second(second)).squeeze(-1) + bilinear
