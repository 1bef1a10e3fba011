"""DTF's fusion losses between two towers (REACTION.md, "DTF"), on ``(B, H)`` representations.

Each takes the two towers' hidden outputs of one layer (``h_a``, ``h_b``, same width) and returns a
scalar that is small when the towers agree; its gradient flows into both towers, pulling them
together. Spatial and relational fusion are exactly 0 for identical towers; InfoNCE is not (its
value for identical towers is the log-partition of the in-batch negatives), see
``contrastive_fusion``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check(h_a: torch.Tensor, h_b: torch.Tensor) -> None:
    if h_a.shape != h_b.shape or h_a.dim() != 2:
        raise ValueError(
            f"towers' representations must both be (B, H), got {h_a.shape}, {h_b.shape}"
        )


def spatial_fusion(h_a: torch.Tensor, h_b: torch.Tensor, margin: float) -> torch.Tensor:
    """``L_srf = mean_i max(0, 1 - cos(h_a[i], h_b[i]) - m1)``: per-sample alignment of one layer.

    The margin ``m1`` leaves positions already within ``1 - m1`` cosine alone, so the towers keep
    some freedom (identical towers: 0).
    """
    _check(h_a, h_b)
    return F.relu(1.0 - F.cosine_similarity(h_a, h_b, dim=1, eps=1e-8) - margin).mean()


def relational_fusion(h_a: torch.Tensor, h_b: torch.Tensor) -> torch.Tensor:
    """``L_rrf = mean (R_a - R_b)^2`` with ``R = norm(H) norm(H)^T`` the in-batch cosine matrix.

    Aligns the geometry of samples (which samples each tower finds alike), not the coordinates.
    """
    _check(h_a, h_b)
    a, b = F.normalize(h_a, dim=1), F.normalize(h_b, dim=1)
    return (a @ a.T - b @ b.T).pow(2).mean()


def contrastive_fusion(h_a: torch.Tensor, h_b: torch.Tensor, tau: float) -> torch.Tensor:
    """Symmetric InfoNCE: sample ``i`` in tower ``a`` should match sample ``i`` in tower ``b``.

    ``logits = norm(h_a) norm(h_b)^T / tau``; the loss is the cross-entropy towards the diagonal,
    averaged over both directions. Minimising it pulls each sample's two views together and
    pushes other samples apart; for identical towers it equals the (positive) log-partition
    over the batch, so it is compared across towers, not to 0.
    """
    _check(h_a, h_b)
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    a, b = F.normalize(h_a, dim=1), F.normalize(h_b, dim=1)
    logits = a @ b.T / tau
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
