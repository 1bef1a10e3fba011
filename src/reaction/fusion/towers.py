"""DTF's towers: ``T`` lightweight MLPs with their own heads over one shared input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from reaction.models.layers.mlp import MLP


@dataclass
class TowerOutputs:
    """``logits``: ``(T, B)``; ``hidden[k]``: tower ``k``'s hidden layers, each ``(B, H_l)``."""

    logits: torch.Tensor
    hidden: list[list[torch.Tensor]]

    @property
    def num_towers(self) -> int:
        return self.logits.shape[0]


class Tower(nn.Module):
    """``(B, K) -> (B,)``: an MLP and its own logit head; what a served REACTION model runs."""

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int],
        dropout: float,
        batch_norm: bool,
        activation: str,
    ) -> None:
        super().__init__()
        if not hidden_units:
            raise ValueError("a DTF tower needs at least one hidden layer to fuse")
        self.mlp = MLP(input_dim, hidden_units, dropout, batch_norm, activation)
        self.head = nn.Linear(self.mlp.output_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp(x)).squeeze(-1)

    def forward_hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(logits (B,), hidden layers)`` in one pass."""
        hidden = self.mlp.forward_hidden(x)
        return self.head(hidden[-1]).squeeze(-1), hidden


class TowerStack(nn.Module):
    """``T`` towers of the same shape, independently initialised, over the same input."""

    def __init__(
        self,
        num_towers: int,
        input_dim: int,
        hidden_units: Sequence[int],
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if not 1 <= num_towers <= 8:
            raise ValueError(f"dtf.num_towers={num_towers} (allowed: 1..8)")
        self.towers = nn.ModuleList(
            Tower(input_dim, hidden_units, dropout, batch_norm, activation)
            for _ in range(num_towers)
        )

    @property
    def num_towers(self) -> int:
        return len(self.towers)

    def forward(self, x: torch.Tensor) -> TowerOutputs:
        # T <= 8 small MLPs: a Python loop over towers costs far less than their matmuls
        outs = [tower.forward_hidden(x) for tower in self.towers]
        return TowerOutputs(torch.stack([o[0] for o in outs]), [o[1] for o in outs])
