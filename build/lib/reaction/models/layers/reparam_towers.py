"""Our DTF variant ``fusion=reparam``: towers that converge onto one exactly mergeable tower.

Tower ``k``'s layer ``l`` computes ``h W_l^T + b_l + s (h D_{l,k}^T + d_{l,k})`` -- shared weights
plus ``s`` times its own difference -- and after each hidden layer the towers' activations are
mixed by a row-stochastic cross-stitch matrix ``softmax(M_l)`` (Misra et al., 2016), so they
exchange features while they differ. ``s`` decays from 1 to 0 over training (the fusion schedule);
at ``s = 0`` every tower computes ``h W^T + b`` from the same input and mixing identical rows with
weights summing to 1 changes nothing: the towers *are* the shared tower, which ``merge`` returns
(an error while ``s > 0``). The shared tower is also what is evaluated and served at every epoch,
so the best checkpoint is always a servable single tower.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reaction.models.layers.mlp import ACTIVATIONS
from reaction.models.layers.towers import Tower, TowerPass, tower_count_problem


class ReparamTowers(nn.Module):
    """``(B, K) -> TowerPass`` of ``T`` reparametrised towers; ``merge() -> Tower``."""

    def __init__(
        self,
        num_towers: int,
        input_dim: int,
        hidden_units: Sequence[int],
        activation: str = "relu",
        mix_self: float = 4.0,
    ) -> None:
        super().__init__()
        if problem := tower_count_problem(num_towers):
            raise ValueError(problem)
        if not hidden_units:
            raise ValueError("reparam towers need at least one hidden layer")
        widths = [input_dim, *hidden_units, 1]
        self.num_towers, self.hidden_units, self.activation = (
            num_towers,
            list(hidden_units),
            activation,
        )
        self.act = ACTIVATIONS[activation]()
        self.shared = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        # differences start at the shared layers' init scale, so the towers begin as distinct nets
        self.diff_weight = nn.ParameterList(
            nn.Parameter(torch.randn(num_towers, b, a) / math.sqrt(a))
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.diff_bias = nn.ParameterList(
            nn.Parameter(torch.zeros(num_towers, b)) for b in widths[1:]
        )
        # cross-stitch logits: mostly each tower's own features at the start
        self.mix = nn.ParameterList(
            nn.Parameter(mix_self * torch.eye(num_towers)) for _ in hidden_units
        )
        self.register_buffer("s", torch.tensor(1.0))

    def set_scale(self, s: float) -> None:
        if not 0.0 <= s <= 1.0:
            raise ValueError(f"reparam scale s must lie in [0, 1], got {s}")
        self.s.fill_(s)

    def forward(self, x: torch.Tensor) -> TowerPass:
        h = x.unsqueeze(0).expand(self.num_towers, *x.shape)  # (T, B, K)
        hidden: list[torch.Tensor] = []
        for i, layer in enumerate(self.shared):
            z = layer(h) + self.s * (
                torch.einsum("tbi,toi->tbo", h, self.diff_weight[i]) + self.diff_bias[i][:, None]
            )
            if i == len(self.shared) - 1:
                logits = z.squeeze(-1)
                break
            h = torch.einsum("kj,jbo->kbo", F.softmax(self.mix[i], dim=1), self.act(z))
            hidden.append(h)
        return logits, [[hl[k] for hl in hidden] for k in range(self.num_towers)]

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, K) -> (B,)``: the shared tower's logits (what is evaluated and served)."""
        for layer in self.shared[:-1]:
            x = self.act(layer(x))
        return self.shared[-1](x).squeeze(-1)

    def shared_tower(self) -> Tower:
        """The ``s = 0`` network as a plain tower (shared weights, no differences, no mixing)."""
        tower = Tower(self.shared[0].in_features, self.hidden_units, 0.0, False, self.activation)
        linears = [m for m in tower.mlp.layers if isinstance(m, nn.Linear)] + [tower.head]
        for target, source in zip(linears, self.shared, strict=True):
            target.load_state_dict(source.state_dict())
        return tower.to(self.s.device)

    def merge(self) -> Tower:
        """The towers as one: exact only once they have converged (``s == 0``)."""
        if float(self.s) > 0.0:
            raise ValueError(
                f"cannot merge the towers while s = {float(self.s):.4g} > 0: they still differ"
            )
        return self.shared_tower()
