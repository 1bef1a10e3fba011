"""IDARTS: differentiable architecture search over the field pairs' interaction operations, with
iDARTS's stochastic implicit hypergradient (Zhang et al., "iDARTS: Differentiable Architecture
Search with Stochastic Implicit Gradients", ICML 2021; code github.com/miaozhang0525/iDARTS).

The REACTION paper names IDARTS among its AFE baselines without a definition we could read; the
only paper of that name we found is the general NAS method above, so this is *our* reading: its
architecture search applied to a CTR search space of feature interactions (the search space of
AutoFIS-style interaction selection). The search network is the shared one plus a mixed operation
per field pair ``p = (i, j)``: ``softmax(alpha_p)`` over the operations ``(zero, <e_i, e_j>)``
(DARTS's continuous relaxation of "no interaction" vs. the FM inner product), summed into the
logit beside the MLP tower. The inner product is taken on embeddings centred over the batch and
batch-normalised per pair (AutoFIS's BN, without affine terms), so that ``alpha`` weighs a pure
interaction of unit scale: uncentred, ``<e_i, e_j>`` also carries the main effect of a strong
field and its scale grows with the embeddings' norms, and the pairs of the strongest field win
(the centring is our choice; the planted interactions are double-centred tables).

Bi-level search: the weights ``w`` train on the fit rows; every
``UPDATE_EVERY`` steps ``alpha`` takes an Adam step on iDARTS's hypergradient

    dL_val/dalpha = grad_alpha L_val
                    - eta * grad2_{alpha,w} L_train . sum_{k=0..K} (I - eta H)^k grad_w L_val

(implicit function theorem, inverse Hessian ``H = grad2_w L_train`` by a ``K = NEUMANN_TERMS``
Neumann series; ``eta`` = ``afe.search.lr``), on a holdout batch (val) and a fit batch (train),
Hessian-vector products by double backward (the reference takes the mixed term by finite
differences). Cross score: ``1 - softmax(alpha_p)[zero]``, the weight of the pair's interaction;
fields by first appearance in the ranked pairs (``reaction.afe.selectors.crosses``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import cycle

import numpy as np
import torch
from torch import nn

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.crosses import cross_record, first_appearance, rank_crosses
from reaction.afe.selectors.search_net import Gate, SearchNet, Step, batches, bce, train

UPDATE_EVERY = 5  # the reference trains 5 weight steps between architecture steps
NEUMANN_TERMS = 2  # the reference's architect_hess.py: v + (I - eta H) v + (I - eta H)^2 v
OPS = ("zero", "inner_product")
BN_EPS = 1e-5  # BatchNorm's


class PairInteraction(nn.Module):
    """``(B, F, D)`` -> ``(B,)``: the mixed operation of every field pair, summed; each pair's
    inner product of batch-centred embeddings is batch-normalised (see the module doc)."""

    def __init__(self, num_fields: int) -> None:
        super().__init__()
        rows, cols = torch.triu_indices(num_fields, num_fields, offset=1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.alpha = nn.Parameter(torch.zeros(len(rows), len(OPS)))

    def weights(self) -> torch.Tensor:
        """``(P,)`` weight of each pair's interaction, ``1 - softmax(alpha)[zero]``."""
        return 1 - torch.softmax(self.alpha, dim=-1)[:, 0]

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        emb = emb - emb.mean(0, keepdim=True)
        inner = (emb[:, self.rows] * emb[:, self.cols]).sum(-1)  # (B, P)
        var, mean = torch.var_mean(inner, dim=0, unbiased=False)
        return ((inner - mean) / torch.sqrt(var + BN_EPS)) @ self.weights()


class InteractionSearchNet(SearchNet):
    """The shared search network plus the pairs' mixed operations added to its logit."""

    def __init__(self, data: SearchData, cfg: SearchConfig) -> None:
        super().__init__(data, cfg, Gate())
        self.interaction = PairInteraction(data.num_fields)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        emb = self.embedding(ids)
        return self.tower(self.gate(emb, ids).flatten(1)).squeeze(-1) + self.interaction(emb)


def hypergradient(
    net: InteractionSearchNet,
    val: tuple[torch.Tensor, ...],
    fit: tuple[torch.Tensor, ...],
    eta: float,
) -> torch.Tensor:
    """iDARTS's stochastic implicit hypergradient of ``alpha`` (see the module doc)."""
    alpha = net.interaction.alpha
    weights = [p for p in net.parameters() if p is not alpha]
    val_loss = bce(net, *val)
    grads = torch.autograd.grad(val_loss, [alpha, *weights], allow_unused=True)
    direct = grads[0]
    v = [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads[1:], strict=True)]
    train_grads = torch.autograd.grad(
        bce(net, *fit), weights, create_graph=True, materialize_grads=True
    )
    term, total = v, [t.clone() for t in v]
    for _ in range(NEUMANN_TERMS):
        dot = sum((g * t).sum() for g, t in zip(train_grads, term, strict=True))
        hvp = torch.autograd.grad(dot, weights, retain_graph=True, materialize_grads=True)
        term = [t - eta * h for t, h in zip(term, hvp, strict=True)]
        total = [s + t for s, t in zip(total, term, strict=True)]
    dot = sum((g * t).sum() for g, t in zip(train_grads, total, strict=True))
    (mixed,) = torch.autograd.grad(dot, alpha)
    return direct - eta * mixed


def idarts(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    net = InteractionSearchNet(data, cfg)
    alpha = net.interaction.alpha
    arch = torch.optim.Adam([alpha], lr=cfg.lr)
    holdout = cycle(list(batches(data.holdout_ids, data.holdout_y, cfg.batch_size, None)))
    fit_rows: Iterator = cycle(
        list(batches(data.ids, data.y, cfg.batch_size, np.random.default_rng(seed + 1)))
    )

    def arch_step(step: Step) -> None:
        if step.step % UPDATE_EVERY == 0:
            alpha.grad = hypergradient(net, next(holdout), next(fit_rows), cfg.lr)
            arch.step()
            net.zero_grad()

    start = time.perf_counter()
    weights = [p for p in net.parameters() if p is not alpha]
    train(net, data, cfg, seed, params=weights, after_step=arch_step)
    pair_weights = net.interaction.weights().detach()
    pairs = zip(net.interaction.rows.tolist(), net.interaction.cols.tolist(), strict=True)
    ranked = rank_crosses({p: float(w) for p, w in zip(pairs, pair_weights, strict=True)})
    detail = {"crosses": cross_record(data.fields, ranked)}
    scores = first_appearance(data.fields, ranked)
    return FieldScores(scores, search_seconds=time.perf_counter() - start, detail=detail)
