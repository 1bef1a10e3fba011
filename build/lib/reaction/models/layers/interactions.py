"""Explicit feature-interaction blocks: the DCN and DCN-V2 cross networks (FM-family pairwise
terms live in ``factorization.py``; CIN, attention as models need them).

REACTION itself keeps interactions *implicit*; these blocks exist for the baselines it is compared
against, written once and composed by every model that needs them.
"""

from __future__ import annotations

import torch
from torch import nn


class CrossNetV2(nn.Module):
    """DCN-V2 cross network (Wang et al. 2021, eq. 1): ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l``.

    ``(B, d) -> (B, d)``, ``d = F * D`` for flattened field embeddings. Each layer multiplies the
    input ``x_0`` element-wise with a linear map of the current ``x_l``, so ``L`` layers build
    polynomial feature crosses up to degree ``L + 1``; the residual keeps lower degrees.

    Full rank (default): ``W_l`` is ``d x d``, ``d^2 + d`` parameters per layer. With
    ``low_rank = r`` the map is ``W_l = U_l V_l^T`` (the paper's low-rank layer, eq. 2, without
    the mixture of experts), computed as ``U_l (V_l^T x_l)``: ``2 d r + d`` parameters per layer.
    Low-rank ``layers[l]`` is ``Sequential(V^T: Linear(d, r, bias=False), U: Linear(r, d))``.
    """

    def __init__(self, input_dim: int, num_layers: int = 3, low_rank: int | None = None) -> None:
        super().__init__()
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if low_rank is not None and low_rank < 1:
            raise ValueError(f"low_rank must be >= 1 or None, got {low_rank}")
        self.input_dim = int(input_dim)
        self.low_rank = low_rank
        self.layers = nn.ModuleList(
            [self._make_layer(self.input_dim, low_rank) for _ in range(num_layers)]
        )

    @staticmethod
    def _make_layer(dim: int, low_rank: int | None) -> nn.Module:
        if low_rank is None:
            return nn.Linear(dim, dim)
        return nn.Sequential(nn.Linear(dim, low_rank, bias=False), nn.Linear(low_rank, dim))

    @property
    def output_dim(self) -> int:
        return self.input_dim

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``(B, d) -> (B, d)``."""
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class CrossNet(nn.Module):
    """DCN cross network (Wang et al. 2017, eq. 3): ``x_{l+1} = x_0 x_l^T w_l + b_l + x_l``.

    ``(B, d) -> (B, d)``, ``d = F * D``. ``x_l^T w_l`` is a scalar per sample, so each layer adds
    ``x_0`` scaled by a learned projection of ``x_l``: ``L`` layers reach crosses of degree
    ``L + 1`` with only ``2 d`` parameters per layer (``w_l`` and ``b_l``): the cross term is
    ``CrossNetV2``'s with the rank-1 ``W_l = 1 w_l^T``, but ``b_l`` is added outside the product.
    ``weights[l]`` is ``Linear(d, 1, bias=False)`` (``w_l^T``); ``biases[l]`` is ``b_l``, from 0.
    """

    def __init__(self, input_dim: int, num_layers: int = 3) -> None:
        super().__init__()
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.input_dim = int(input_dim)
        self.weights = nn.ModuleList(
            [nn.Linear(self.input_dim, 1, bias=False) for _ in range(num_layers)]
        )
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(self.input_dim)) for _ in range(num_layers)]
        )

    @property
    def output_dim(self) -> int:
        return self.input_dim

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``(B, d) -> (B, d)``."""
        x = x0
        for weight, bias in zip(self.weights, self.biases, strict=True):
            x = x0 * weight(x) + bias + x  # weight(x): (B, 1), the scalar x_l^T w_l per sample
        return x
