"""The fusion losses' inner products with backwards written for them (``reaction.fusion.losses``).

Autograd differentiates these expressions op by op: it writes a ``(B, H)`` product per operand,
runs each norm's backward separately and adds the pieces up, or (for a Gram ``A^T A``) runs two
matrix products where one will do. Each function here computes exactly what the plain
expression computes and writes every tower's gradient once, accumulating in place; the equality
tests (``tests/unit/test_fusion.py``) hold them to the per-pair formulas to 1e-6.
"""

from __future__ import annotations

import torch

NORM_EPS = 1e-8  # a dead (all-zero) ReLU state normalises to 0: cosine 0 with everything

Pairs = list[tuple[int, int]]


def _used(pairs: Pairs) -> list[int]:
    return sorted({t for pair in pairs for t in pair})


class UnitRows(torch.autograd.Function):
    """``(..., B, H) -> (..., B, H)``: ``F.normalize`` (``x / max(|x|, eps)``) along the last dim.

    Backward ``(g - y <g, y>) / |x|`` (only ``g / eps`` where the norm is clamped): three passes
    where ``F.normalize``'s division takes about six.
    """

    @staticmethod
    def forward(ctx, states: torch.Tensor) -> torch.Tensor:
        norms = torch.linalg.vector_norm(states, dim=-1, keepdim=True)
        inverse = norms.clamp_min(NORM_EPS).reciprocal()
        unit = states * inverse
        ctx.save_for_backward(unit, inverse, norms > NORM_EPS)
        return unit

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        unit, inverse, alive = ctx.saved_tensors
        along = torch.linalg.vecdot(grad, unit).unsqueeze(-1) * alive
        return torch.addcmul(grad, unit, along, value=-1.0).mul_(inverse)


class PairCosines(torch.autograd.Function):
    """``(pairs, *T tensors (B, H)) -> (P, B)``: each pair's row-wise cosines (spatial fusion).

    ``cos_p[i] = <h_a[i], h_b[i]> u_a[i] u_b[i]``, ``u = 1 / max(|h|, eps)``; backward
    ``d cos / d h_a = u_a u_b h_b - cos u_a^2 h_a`` (the second term only where ``|h_a| > eps``):
    ``2 P + T`` passes over ``(B, H)`` in all.
    """

    @staticmethod
    def forward(ctx, pairs: Pairs, *towers: torch.Tensor) -> torch.Tensor:
        used = _used(pairs)
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


class PairGramGaps(torch.autograd.Function):
    """``(pairs, *T tensors (B, H)) -> (P,)``: ``(||A^T A||^2 + ||B^T B||^2 - 2 ||A^T B||^2) / B^2``
    per pair (relational fusion's identity), each tower's own Gram formed once.

    Backward per tower ``t``: ``(4 / B^2) (W_t A_t G_tt - sum_{(t, s)} w_ts A_s G_st)``, ``W_t`` the
    sum of its pairs' weights: one ``B x H x H`` product per tower and per pair side, where
    autograd spends two on every own Gram.
    """

    @staticmethod
    def forward(ctx, pairs: Pairs, *towers: torch.Tensor) -> torch.Tensor:
        used = _used(pairs)
        own = {t: towers[t].T @ towers[t] for t in used}
        cross = [towers[a].T @ towers[b] for a, b in pairs]
        own_sq = {t: gram.square().sum() for t, gram in own.items()}
        gaps = torch.stack(
            [
                own_sq[a] + own_sq[b] - 2 * c.square().sum()
                for (a, b), c in zip(pairs, cross, strict=True)
            ]
        )
        ctx.pairs, ctx.used = pairs, used
        ctx.save_for_backward(*towers, *own.values(), *cross)
        return gaps / towers[0].shape[0] ** 2

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        saved, count = ctx.saved_tensors, len(ctx.used)
        towers = saved[: -count - len(ctx.pairs)]
        own = dict(zip(ctx.used, saved[len(towers) : len(towers) + count], strict=True))
        cross = saved[len(towers) + count :]
        weight = grad * (4.0 / towers[0].shape[0] ** 2)
        own_weight = {t: torch.zeros_like(weight[0]) for t in ctx.used}
        for p, (a, b) in enumerate(ctx.pairs):
            own_weight[a] = own_weight[a] + weight[p]
            own_weight[b] = own_weight[b] + weight[p]
        grads = {t: towers[t] @ (own[t] * own_weight[t]) for t in ctx.used}
        for p, (a, b) in enumerate(ctx.pairs):
            grads[a].addmm_(towers[b], cross[p].T * -weight[p])
            grads[b].addmm_(towers[a], cross[p] * -weight[p])
        return (None, *(grads.get(t) for t in range(len(towers))))


EXP_RANGE = 80.0  # exp(+-80) and sums of exp(80 - log m) over m terms are normal float32 numbers


class BlockInfoNCE(torch.autograd.Function):
    """``(a, b (n, m, H), tau) -> ()``: the sum over all rows of the symmetric InfoNCE within each
    block, ``sum_i [(lse_j l_ij + lse_j l_ji) / 2 - l_ii]`` with ``l = a b^T / tau``.

    For rows of length <= 1 and ``1 / tau + log m <= EXP_RANGE`` only: every logit lies in
    ``[-1/tau, 1/tau]``, so ``E = exp(l)`` needs no max shift, one ``exp`` serves the rows' and
    the columns' partitions (cross-entropy both ways ran log-softmax twice, on a transposed copy)
    and the positives are ``log E_ii``. Backward ``d/dl_ij = (E_ij / r_i + E_ij / c_j) / 2 -
    [i = j]`` is formed once, the positives' gradient on its diagonal, and enters two batched
    products.
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
        scaled = a * (1.0 / tau)  # (n, m, H): cheaper to scale than the (n, m, m) logits
        exp = torch.bmm(scaled, b.transpose(1, 2)).exp_()
        rows, cols = exp.sum(dim=2), exp.sum(dim=1)
        positives = exp.diagonal(dim1=1, dim2=2).log()
        ctx.save_for_backward(scaled, b, exp, rows, cols)
        ctx.tau = tau
        return (0.5 * (rows.log() + cols.log()) - positives).sum()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        scaled, b, exp, rows, cols = ctx.saved_tensors
        logits_grad = ((0.5 / rows).unsqueeze(2) + (0.5 / cols).unsqueeze(1)).mul_(exp)
        logits_grad.diagonal(dim1=1, dim2=2).sub_(1.0)
        grad_a = torch.bmm(logits_grad, b).mul_(grad / ctx.tau)
        grad_b = torch.bmm(logits_grad.transpose(1, 2), scaled).mul_(grad)
        return grad_a, grad_b, None
