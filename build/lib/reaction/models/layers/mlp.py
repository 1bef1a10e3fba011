"""The one MLP block every model composes (deep towers, DTF towers, heads with hidden layers)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


class MLP(nn.Module):
    """``(B, in) -> (B, H_last)`` or ``(B, output_dim)``.

    Each hidden layer is ``Linear -> [BatchNorm] -> activation -> [Dropout]``, the order of
    FuxiCTR's ``MLP_Block`` used by the BARS baselines. ``output_dim`` adds a final plain
    ``Linear`` (no activation). With no hidden units and no ``output_dim`` the block is the
    identity, so a model can switch its deep part off by config.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int] = (),
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        output_dim: int | None = None,
    ) -> None:
        super().__init__()
        units = [int(u) for u in hidden_units]
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if units and min(units) < 1:
            raise ValueError(f"hidden_units must all be >= 1, got {units}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if output_dim is not None and output_dim < 1:
            raise ValueError(f"output_dim must be >= 1 or None, got {output_dim}")
        layers: list[nn.Module] = []
        width = int(input_dim)
        for units_out in units:
            layers.append(nn.Linear(width, units_out))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units_out))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = units_out
        if output_dim is not None:
            layers.append(nn.Linear(width, output_dim))
            width = output_dim
        self.layers = nn.Sequential(*layers)
        self._output_dim = width

    @property
    def output_dim(self) -> int:
        """Width of the output: ``output_dim``, else the last hidden width, else ``input_dim``."""
        return self._output_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in) -> (B, output_dim)``."""
        return self.layers(x)

    def forward_hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's output (after its activation), ``[(B, H_1), ..., (B, H_n)]``.

        What DTF's fusion losses align between towers; the last entry is the block's output
        when it has no ``output_dim`` layer.
        """
        hidden = []
        for layer in self.layers:
            x = layer(x)
            if isinstance(layer, tuple(ACTIVATIONS.values())):
                hidden.append(x)
        return hidden
