"""GDCN's gated cross network (Wang et al., CIKM 2023, "Towards Deeper, Lighter and
Interpretable Cross Network for CTR Prediction", eq. 2-3).

DCN-V2's cross layer adds every cross term it builds; deeper stacks then add mostly noisy
high-order crosses, which is why DCN-V2 stops helping after 2-3 layers. GDCN multiplies each
layer's cross term by an information gate computed from the same input, so a layer can switch
individual crosses off: the paper shows stacks of 8+ layers still improve.
"""

from __future__ import annotations

import torch
from torch import nn


class GatedCrossNet(nn.Module):
    """``(B, d) -> (B, d)``: ``c_{l+1} = c_0 * (W_l c_l + b_l) * sigmoid(W^g_l c_l) + c_l``.

    Per layer two ``d x d`` maps without bias (cross ``W_l``, gate ``W^g_l``) and one bias
    ``b_l``: ``2 d^2 + d`` parameters. ``b_l`` starts ``U(0, 1)`` as in the reference code
    (FuxiCTR ``GateCorssLayer``); the maps keep PyTorch's default init.
    """

    def __init__(self, input_dim: int, num_layers: int = 3) -> None:
        super().__init__()
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.input_dim = int(input_dim)
        self.cross = nn.ModuleList(
            nn.Linear(self.input_dim, self.input_dim, bias=False) for _ in range(num_layers)
        )
        self.gates = nn.ModuleList(
            nn.Linear(self.input_dim, self.input_dim, bias=False) for _ in range(num_layers)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.rand(self.input_dim)) for _ in range(num_layers)
        )

    @property
    def output_dim(self) -> int:
        return self.input_dim

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``(B, d) -> (B, d)``."""
        x = x0
        for cross, gate, bias in zip(self.cross, self.gates, self.biases, strict=True):
            x = x0 * (cross(x) + bias) * torch.sigmoid(gate(x)) + x
        return x
