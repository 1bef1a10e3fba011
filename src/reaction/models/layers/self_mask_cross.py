"""DCNv3's cross networks with self-mask (Li et al., arXiv 2407.13349, "DCNv3: Towards
Next Generation Deep Cross Network for CTR Prediction", eq. 4-7; reference salmon1802/DCNv3).

DCNv3 drops the implicit MLP and models interactions only explicitly, in two branches: the
linear cross network (LCN, crosses with ``x_0``: degree grows by 1 per layer) and the
exponential cross network (ECN, crosses with itself: degree doubles per layer). Each layer's
cross term is half a linear map and half that map filtered by its own layer-normed ReLU mask
("self-mask"), which halves the parameters of a full cross layer and drops noisy crosses.
"""

from __future__ import annotations

import torch
from torch import nn


class SelfMaskCrossNet(nn.Module):
    """``(B, N, d) -> (B, N, d)`` over ``N`` heads with shared weights.

    Layer ``l``: ``h = W_l x_l`` (``d/2`` wide), ``c = [h || h * ReLU(LN(h))]``, then
    ``x_{l+1} = x_0 * (c + b_l) + x_l`` (linear, LCN) or ``x_l * (c + b_l) + x_l``
    (``exponential=True``, ECN), then dropout. Per layer ``d^2/2`` weights, ``d`` bias
    (``U(0, 1)`` as in the reference), ``d`` layer-norm parameters, ``2 N`` with ``batch_norm``
    (a ``BatchNorm1d`` over the heads, as the reference applies it before the mask).
    """

    def __init__(
        self,
        input_dim: int,
        num_layers: int = 3,
        exponential: bool = False,
        layer_norm: bool = True,
        batch_norm: bool = False,
        num_heads: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if input_dim < 2 or input_dim % 2:
            raise ValueError(
                f"input_dim must be even and >= 2 (the mask halves it), got {input_dim}"
            )
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.input_dim = int(input_dim)
        self.exponential = exponential
        half = self.input_dim // 2
        self.maps = nn.ModuleList(
            nn.Linear(self.input_dim, half, bias=False) for _ in range(num_layers)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.rand(self.input_dim)) for _ in range(num_layers)
        )
        self.batch_norms = nn.ModuleList(
            nn.BatchNorm1d(num_heads) if batch_norm else nn.Identity() for _ in range(num_layers)
        )
        self.layer_norms = nn.ModuleList(
            nn.LayerNorm(half) if layer_norm else nn.Identity() for _ in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @property
    def output_dim(self) -> int:
        return self.input_dim

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``(B, N, d) -> (B, N, d)``."""
        x = x0
        layers = zip(self.maps, self.biases, self.batch_norms, self.layer_norms, strict=True)
        for linear, bias, batch_norm, layer_norm in layers:
            h = batch_norm(linear(x))
            c = torch.cat([h, h * torch.relu(layer_norm(h))], dim=-1)
            x = self.dropout((x if self.exponential else x0) * (c + bias) + x)
        return x
