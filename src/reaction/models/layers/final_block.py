"""FINAL blocks (Zhu et al., SIGIR 2023, "FINAL: Factorized Interaction Layer for CTR
Prediction"; FuxiCTR ``FinalNet``): MLP layers that also learn quadratic interactions.

A FINAL layer replaces ``Linear -> activation`` by one linear map split in two halves whose
element-wise product is kept: each layer multiplies the degree of its input's interactions by
up to 2, so a block of ``L`` layers reaches degree ``2^L`` without an activation at all, at the
cost of a plain linear layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from reaction.models.layers.mlp import ACTIVATIONS

Residual = Literal["concat", "sum"]


class FactorizedInteraction(nn.Module):
    """``(B, in) -> (B, out)``: ``[h_a || h_a * h_b]`` (concat) or ``h_a + h_a * h_b`` (sum).

    ``[h_a || h_b] = W x + b`` is ``out`` wide for ``concat`` (so ``out`` must be even) and
    ``2 out`` wide for ``sum``: ``in * out + out`` or ``2 (in * out + out)`` parameters.
    """

    def __init__(self, input_dim: int, output_dim: int, residual: Residual = "concat") -> None:
        super().__init__()
        if residual not in ("concat", "sum"):
            raise ValueError(f"residual must be 'concat' or 'sum', got {residual!r}")
        if residual == "concat" and output_dim % 2:
            raise ValueError(f"a concat FINAL layer needs an even width, got {output_dim}")
        self.residual = residual
        self.linear = nn.Linear(input_dim, output_dim if residual == "concat" else 2 * output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in) -> (B, out)``."""
        h_a, h_b = torch.chunk(self.linear(x), 2, dim=-1)
        if self.residual == "concat":
            return torch.cat([h_a, h_a * h_b], dim=-1)
        return h_a + h_a * h_b


class FinalBlock(nn.Module):
    """``(B, in) -> (B, H_last)``: ``FactorizedInteraction -> [BatchNorm] -> [activation] ->
    [Dropout]`` per hidden width, the layer order of FuxiCTR's ``FinalBlock`` (and of ``MLP``).

    ``activation=None`` is the paper's default: the factorized product is the non-linearity.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int],
        residual: Residual = "concat",
        batch_norm: bool = True,
        activation: str | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        units = [int(u) for u in hidden_units]
        if not units:
            raise ValueError("a FINAL block needs at least one hidden width, got []")
        if activation is not None and activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)} or None, got {activation!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        for width_in, width_out in zip([input_dim, *units[:-1]], units, strict=True):
            layers.append(FactorizedInteraction(width_in, width_out, residual))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width_out))
            if activation is not None:
                layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)
        self.output_dim = units[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in) -> (B, H_last)``."""
        return self.layers(x)


class FieldGating(nn.Module):
    """``(B, F, D) -> (B, 2F, D)``: ``[e || e * g]`` with ``g = W e + b`` mixing the fields.

    FinalNet's optional gate: ``W`` is ``F x F`` over the field axis (shared by all ``D``
    coordinates), starting at ``W = 0, b = 1`` (the reference's ``init_weights``), i.e. at
    ``[e || e]``; ``F^2 + F`` parameters.
    """

    def __init__(self, num_fields: int) -> None:
        super().__init__()
        self.linear = nn.Linear(num_fields, num_fields)
        nn.init.zeros_(self.linear.weight)
        nn.init.ones_(self.linear.bias)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``(B, F, D) -> (B, 2F, D)``."""
        gates = self.linear(e.transpose(1, 2)).transpose(1, 2)
        return torch.cat([e, e * gates], dim=1)
