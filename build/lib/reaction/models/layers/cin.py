"""Compressed Interaction Network (Lian et al., KDD 2018, xDeepFM section 3.2).

CIN builds explicit, *vector-wise* interactions: every layer multiplies the previous feature maps
with the field embeddings dimension by dimension and compresses the ``H_{k-1} x F`` products
into ``H_k`` new maps, so layer ``k`` holds interactions of degree ``k + 1`` (DCN's cross network is
bit-wise by contrast).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class CompressedInteractionNet(nn.Module):
    """``(B, F, D) -> p^+ (B, output_dim)``: CIN layers (eq. 6) with sum pooling (eq. 7).

    Layer ``k`` computes, for every output map ``h`` and embedding coordinate ``d``,
    ``X^k[h, d] = sum_i sum_m W^{k,h}[i, m] * X^{k-1}[i, d] * X^0[m, d]``, linear as in eq. 6 (no
    bias, no activation). Each ``layers[k]`` is ``Linear(H_{k-1} * F, H_k, bias=False)`` whose
    weight viewed as ``(H_k, H_{k-1}, F)`` is ``W^{k, h}[i, m]`` (the paper's 1x1 convolution).
    Each layer's maps are sum-pooled over ``D`` and the pools are concatenated into ``p^+``.

    ``split_half`` is the paper's option (section 3.2) of sending half of a layer's maps to the
    output and the other half to the next layer; off by default, as in FuxiCTR. The last layer
    always sends all of its maps to the output.
    """

    def __init__(
        self, num_fields: int, hidden_units: Sequence[int] = (32, 32, 32), split_half: bool = False
    ) -> None:
        super().__init__()
        units = [int(u) for u in hidden_units]
        if num_fields < 1:
            raise ValueError(f"num_fields must be >= 1, got {num_fields}")
        if not units or min(units) < 1:
            raise ValueError(f"CIN hidden_units must be non-empty and all >= 1, got {units}")
        if split_half and any(u % 2 for u in units[:-1]):
            raise ValueError(f"CIN split_half needs even hidden_units except the last, got {units}")
        self.num_fields = int(num_fields)
        self.split_half = bool(split_half)
        last = len(units) - 1
        # Maps each layer passes on: all of them, or the first half under split_half.
        passed = [u // 2 if split_half and k < last else u for k, u in enumerate(units)]
        inputs = [self.num_fields, *passed[:-1]]
        self.layers = nn.ModuleList(
            nn.Linear(h_in * self.num_fields, h, bias=False)
            for h_in, h in zip(inputs, units, strict=True)
        )
        # Under split_half every layer but the last keeps half of its maps for the next layer.
        self._output_dim = sum(units) - (sum(passed[:-1]) if split_half else 0)

    @property
    def output_dim(self) -> int:
        """Width of ``p^+``: ``sum_k H_k``, or with ``split_half`` the halves sent to the output."""
        return self._output_dim

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``(B, F, D) -> (B, output_dim)``."""
        # Work in (B, D, maps) layout so each compression is one Linear over the last axis.
        base = x0.transpose(1, 2)  # (B, D, F)
        x = base
        pools = []
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            z = (x.unsqueeze(3) * base.unsqueeze(2)).flatten(start_dim=2)  # (B, D, H_{k-1} * F)
            x = layer(z)  # (B, D, H_k)
            direct = x
            if self.split_half and k < last:
                # First half feeds the next layer, second half goes to the output.
                x, direct = torch.chunk(x, 2, dim=-1)
            pools.append(direct.sum(dim=1))
        return torch.cat(pools, dim=1)
