"""Multi-head self-attention over fields (AutoInt, Song et al., CIKM 2019, "interacting layer").

Fields are treated as a set of ``F`` tokens: each field attends to every field (itself included)
and mixes their projected values, so one layer models all pairwise interactions and stacked layers
model higher orders. There is no positional information, so the block is permutation-equivariant
over fields. Written once for AutoInt+ and for later attention-based models.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MultiHeadSelfAttention(nn.Module):
    """``(B, F, in) -> (B, F, A)``: AutoInt's interacting layer.

    Per head ``h`` with width ``A / heads``: ``alpha = softmax_k(<W_Q^h e_f, W_K^h e_k>)`` (the
    paper's attention score, scaled by ``1/sqrt(A / heads)`` only when ``use_scale``; the paper does
    not scale) and ``e_f^h = sum_k alpha_{f,k} W_V^h e_k``. Heads are concatenated and the output is
    the residual ``ReLU(e^heads + W_res e)``. ``W_res`` is a projection only when ``in != A``,
    otherwise the identity (as FuxiCTR); ``use_residual=False`` drops the term. ``layer_norm``
    normalises the sum before the ReLU (a FuxiCTR option, not in the paper). ``dropout`` applies to
    the attention weights in training.
    """

    def __init__(
        self,
        input_dim: int,
        attention_dim: int,
        num_heads: int = 1,
        use_residual: bool = True,
        use_scale: bool = False,
        layer_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if num_heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        if attention_dim < 1 or attention_dim % num_heads:
            raise ValueError(
                f"attention_dim must be a positive multiple of num_heads={num_heads}, "
                f"got {attention_dim}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.num_heads = int(num_heads)
        self.attention_dim = int(attention_dim)
        self.head_dim = self.attention_dim // self.num_heads
        self.scale = self.head_dim**-0.5 if use_scale else 1.0
        self.dropout = float(dropout)
        self.query = nn.Linear(input_dim, attention_dim, bias=False)
        self.key = nn.Linear(input_dim, attention_dim, bias=False)
        self.value = nn.Linear(input_dim, attention_dim, bias=False)
        self.residual: nn.Module | None = None
        if use_residual:
            self.residual = (
                nn.Identity()
                if input_dim == attention_dim
                else nn.Linear(input_dim, attention_dim, bias=False)
            )
        self.norm = nn.LayerNorm(attention_dim) if layer_norm else nn.Identity()

    @property
    def output_dim(self) -> int:
        return self.attention_dim

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F, A) -> (B, heads, F, A / heads)``."""
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F, in) -> (B, F, A)``."""
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, scale=self.scale
        )  # (B, heads, F, A / heads)
        out = out.transpose(1, 2).flatten(start_dim=2)  # heads concatenated
        if self.residual is not None:
            out = out + self.residual(x)
        return torch.relu(self.norm(out))
