"""Per-sample cosines between tower pairs, with a backward written for it (spatial fusion).

``cos_p[i] = <h_a[i], h_b[i]> u_a[i] u_b[i]`` with ``u = 1 / max(|h|, eps)`` (``F.normalize``'s
scaling). Autograd's backward of that expression writes two ``(B, H)`` products per pair, runs
each tower's norm backward, and adds it all up; here every tower's gradient is accumulated in
place, ``2 P + T`` passes over ``(B, H)`` in all:

    d cos / d h_a = u_a u_b h_b - cos u_a^2 h_a   (the second term only where |h_a| > eps)
"""

from __future__ import annotations

import torch

NORM_EPS = 1e-8  # a dead (all-zero) ReLU state normalises to 0: cosine 0 with everything


def inverse_norms(states: torch.Tensor) -> torch.Tensor:
    """``(..., B, H) -> (..., B, 1)``: ``1 / max(||h||, eps)``, ``F.normalize``'s denominator.

    Scaling by it is one multiplication whose backward is cheap; dividing (as ``F.normalize``
    does) costs several passes over ``(T, B, H)`` in backward."""
    return torch.linalg.vector_norm(states, dim=-1, keepdim=True).clamp_min(NORM_EPS).reciprocal()


class PairCosines(torch.autograd.Function):
    """``(pairs, *T tensors (B, H)) -> (P, B)``: each pair's row-wise cosines."""

    @staticmethod
    def forward(ctx, pairs: list[tuple[int, int]], *towers: torch.Tensor) -> torch.Tensor:
        used = sorted({t for pair in pairs for t in pair})
        norms = {t: torch.linalg.vector_norm(towers[t], dim=-1) for t in used}
        inverse = {t: norms[t].clamp_min(NORM_EPS).reciprocal() for t in used}
        cosines = torch.stack(
            [
                torch.linalg.vecdot(towers[a], towers[b]) * (inverse[a] * inverse[b])
                for a, b in pairs
            ]
        )
        ctx.pairs, ctx.used = pairs, used
        ctx.save_for_backward(cosines, *towers, *(inverse[t] for t in used))
        ctx.alive = {t: norms[t] > NORM_EPS for t in used}  # where the norm path has a gradient
        return cosines

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        cosines, *saved = ctx.saved_tensors
        count = len(ctx.used)
        towers, inverse = saved[:-count], dict(zip(ctx.used, saved[-count:], strict=True))
        grads: dict[int, torch.Tensor] = {}
        self_weight = {t: torch.zeros_like(inverse[t]) for t in ctx.used}
        for p, (a, b) in enumerate(ctx.pairs):
            cross = (grad[p] * inverse[a] * inverse[b]).unsqueeze(-1)
            for t, partner in ((a, b), (b, a)):
                if t in grads:
                    grads[t].addcmul_(towers[partner], cross)
                else:
                    grads[t] = towers[partner] * cross
                self_weight[t] += grad[p] * cosines[p]
        for t in ctx.used:
            weight = self_weight[t] * inverse[t].square() * ctx.alive[t]
            grads[t].addcmul_(towers[t], weight.unsqueeze(-1), value=-1.0)
        return (None, *(grads.get(t) for t in range(len(towers))))
