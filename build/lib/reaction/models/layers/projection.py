"""A learned linear projection of concatenated embeddings, optionally an information bottleneck.

AFE's ``subspace_dim`` extension: ``(B, K) -> (B, d)``. With ``ib_beta > 0`` it is a variational
information bottleneck (Alemi et al., 2017): training samples ``z ~ N(mu(x), diag sigma^2(x))``
and adds ``ib_beta * KL(q(z|x) || N(0, I))`` -- an upper bound on ``I(Z;X)`` -- to the loss, so
the subspace keeps what predicts the label and forgets the rest; evaluation uses ``mu(x)``.
"""

from __future__ import annotations

import torch
from torch import nn


class SubspaceProjection(nn.Module):
    """``(B, K) -> (B, d)``; a variational bottleneck with a KL term when ``ib_beta > 0``."""

    def __init__(self, in_dim: int, out_dim: int, ib_beta: float = 0.0) -> None:
        super().__init__()
        if min(in_dim, out_dim) < 1 or ib_beta < 0:
            raise ValueError(f"need in/out dims >= 1, ib_beta >= 0: {in_dim, out_dim, ib_beta}")
        self.ib_beta = float(ib_beta)
        self.out_dim = int(out_dim)
        self.mean = nn.Linear(in_dim, out_dim, bias=False)
        self.log_var = nn.Linear(in_dim, out_dim) if ib_beta > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_loss(x)[0]

    def forward_with_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(z, ib_beta * KL)`` when training a bottleneck, else ``(mu(x), None)``."""
        mu = self.mean(x)
        if self.log_var is None or not self.training:
            return mu, None
        log_var = self.log_var(x).clamp(-10.0, 10.0)
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var).sum(1).mean()
        return mu + torch.randn_like(mu) * (0.5 * log_var).exp(), self.ib_beta * kl
