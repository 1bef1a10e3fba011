"""Adaptive parameter generation (Yan et al., NeurIPS 2022, "APG: Adaptive Parameter Generation
Network for Click-Through Rate Prediction").

A CTR MLP applies the same weights to every sample although samples differ in kind (a new user
vs. a heavy one, one slot vs. another). APG generates each layer's weights per instance from a
condition ``z``. Generating a full ``out x in`` matrix per sample is too costly, so the paper
factorises it: ``W_x = U S_x V`` with a small ``K x K`` core ``S_x`` generated from
``z`` and ``U``, ``V`` shared by all samples ("low-rank parameterisation" + "parameter sharing"),
optionally with ``U``, ``V`` over-parameterised as products of larger matrices during training
("over parameterisation"). ``y = U (S_x (V x))`` is evaluated right to left, so no per-sample
``out x in`` matrix is ever formed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.models.layers.mlp import ACTIVATIONS, MLP


class APGLinear(nn.Module):
    """``(B, in), (B, c) -> (B, out)``: ``y = U S(z) V x + b`` with ``S(z) (B, K, K)`` generated.

    ``U (out, K)`` and ``V (K, in)`` are shared; ``S(z)`` is a ``hypernet`` MLP of the condition
    ``z`` reshaped to ``K x K``; ``b (out,)`` is a shared parameter (FuxiCTR's ``generate_bias``
    option, generating it per instance too, is not implemented). With ``overparam_dim = P``
    (``P >= K``), ``U = U_l U_r`` (``(out, P) (P, K)``) and ``V = V_l V_r``
    (``(K, P) (P, in)``): the same function class, trained through wider factors (the paper's
    over-parameterisation, which can be multiplied out after training). ``U``/``V`` factors start
    Xavier-normal, as in FuxiCTR.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        condition_dim: int,
        rank: int,
        hypernet_hidden_units: Sequence[int] = (),
        hypernet_activation: str = "relu",
        overparam_dim: int | None = None,
    ) -> None:
        super().__init__()
        if min(input_dim, output_dim, condition_dim) < 1:
            raise ValueError(
                f"input_dim, output_dim and condition_dim must be >= 1, "
                f"got {input_dim}, {output_dim}, {condition_dim}"
            )
        if not 1 <= rank <= min(input_dim, output_dim):
            raise ValueError(
                f"rank must lie in [1, min(input_dim, output_dim)] = [1, "
                f"{min(input_dim, output_dim)}], got {rank}"
            )
        if overparam_dim is not None and overparam_dim < rank:
            raise ValueError(f"overparam_dim must be >= rank={rank} or None, got {overparam_dim}")
        self.rank = int(rank)
        self.hypernet = MLP(
            condition_dim, hypernet_hidden_units, activation=hypernet_activation, output_dim=rank**2
        )
        shapes = {"u": (output_dim, rank), "v": (rank, input_dim)}
        if overparam_dim is not None:
            p = int(overparam_dim)
            shapes = {
                "u_left": (output_dim, p),
                "u_right": (p, rank),
                "v_left": (rank, p),
                "v_right": (p, input_dim),
            }
        self.factors = nn.ParameterDict(
            {
                name: nn.Parameter(nn.init.xavier_normal_(torch.empty(shape)))
                for name, shape in shapes.items()
            }
        )
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def shared(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``U (out, K)`` and ``V (K, in)``, multiplied out when over-parameterised."""
        if "u" in self.factors:
            return self.factors["u"], self.factors["v"]
        u = self.factors["u_left"] @ self.factors["u_right"]
        return u, self.factors["v_left"] @ self.factors["v_right"]

    def core(self, condition: torch.Tensor) -> torch.Tensor:
        """``(B, c)`` condition -> ``(B, K, K)`` generated ``S(z)``."""
        return self.hypernet(condition).reshape(-1, self.rank, self.rank)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``(B, in), (B, c) -> (B, out)``."""
        u, v = self.shared()
        inner = torch.einsum("bij,bj->bi", self.core(condition), x @ v.T)
        return inner @ u.T + self.bias


class APGMLP(nn.Module):
    """``(B, in), (B, c) -> (B, H_last)``: ``MLP`` with every ``Linear`` an ``APGLinear``.

    Each hidden layer is ``APGLinear -> [BatchNorm] -> activation -> [Dropout]`` (``MLP``'s
    order), all generated from the same condition ``z`` (the paper's group-wise condition).
    Every layer uses ``min(rank, in, out)`` so one rank setting fits narrow first layers.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int],
        condition_dim: int,
        rank: int = 32,
        hypernet_hidden_units: Sequence[int] = (),
        overparam_dim: int | None = None,
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        units = [int(u) for u in hidden_units]
        if not units or min(units) < 1:
            raise ValueError(f"hidden_units must be non-empty and all >= 1, got {units}")
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        if overparam_dim is not None and overparam_dim < rank:
            raise ValueError(f"overparam_dim must be >= rank={rank} or None, got {overparam_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.linears = nn.ModuleList()
        self.blocks = nn.ModuleList()
        width = int(input_dim)
        for units_out in units:
            layer_rank = min(rank, width, units_out)
            self.linears.append(
                APGLinear(
                    width,
                    units_out,
                    condition_dim,
                    layer_rank,
                    hypernet_hidden_units,
                    hypernet_activation=activation,
                    overparam_dim=overparam_dim,
                )
            )
            block: list[nn.Module] = [nn.BatchNorm1d(units_out)] if batch_norm else []
            block.append(ACTIVATIONS[activation]())
            if dropout > 0:
                block.append(nn.Dropout(dropout))
            self.blocks.append(nn.Sequential(*block))
            width = units_out
        self.output_dim = width

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``(B, in), (B, c) -> (B, H_last)``."""
        for linear, block in zip(self.linears, self.blocks, strict=True):
            x = block(linear(x, condition))
        return x
