"""TayFCS (Wang et al., "TayFCS: Towards Light Feature Combination Selection for Deep Recommender
Systems", KDD 2025; code github.com/xqwustc/TayFCS): cross scores from one backward pass of a
trained model (TayScorer), then Logistic Regression Elimination (LRE) of redundant crosses.

**TayScorer.** Train the search network; on the holdout rows take each field's embedding ``e_f``,
its deviation from the rows' mean ``delta_f = e_f - mean(e_f)`` (the expansion point) and the loss
gradient ``g_f = dL/de_f``. The field's first-order Taylor term is ``a_f = <g_f, delta_f>``; the
Hessian of the higher terms is approximated by products of gradients (``H_ij ~ g_i g_j^T``), so
the order-2 term of fields ``i, j`` is ``a_i a_j`` and the order-3 term of ``i, j, k`` is
``a_i a_j a_k``. A cross's score sums ``mean_rows |term|`` over every ordered index tuple (of
length 2 and 3) whose set of fields is the cross -- as the reference's ``evaluate_with_tayscorer``
does: pair ``{i, j}`` gets ``2 S2[i,j] + 3 (S3[i,i,j] + S3[i,j,j])``, triple ``{i, j, k}`` gets
``6 S3[i,j,k]``. The reference scores a DNN with 1-dim embeddings, where ``a_f = g_f delta_f``;
the inner product is the same expansion field-wise for ``D > 1`` (``afe.search.embedding_dim=1``
is the reference's setting).

**LRE.** A logistic regression on every field plus the top ``LRE_CROSSES`` crosses (hashed cross
ids, ``HASH_BUCKETS`` at most) is trained on the fit rows; each cross is then removed on the
holdout rows (its weight replaced by the weights' mean, as the reference does) and a cross whose
removal *lowers* the holdout log loss adds nothing beyond its sub-fields and is eliminated.

**Fields.** First appearance in TayScorer's ranked crosses (``reaction.afe.selectors.crosses``).
LRE decides whether a cross is worth adding *on top of* its fields; eliminating one says its
fields already carry its information, never that they should go, and a field plan adds no cross
features, so LRE does not move the fields: its verdict is the plan's cross-level result
(``fitted_on["crosses"]``: the ranked crosses LRE kept, ``["eliminated"]``: those it removed).
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.crosses import Cross, cross_record, first_appearance, rank_crosses
from reaction.afe.selectors.search_net import Gate, SearchNet, batches, train
from reaction.models.layers.embedding import FieldEmbedding

LRE_CROSSES = 20  # the reference's --com_num default
HASH_BUCKETS = 1 << 17  # ids per cross at most (the reference hashes into 5e6 on full data)
LRE_LR_SCALE = (
    10.0  # LRE's LR at 10x afe.search.lr: a 1-dim LR barely moves in a few epochs at 1e-3
)
SCORE_ROWS = 4096  # holdout rows per chunk of the order-3 sums


def taylor_terms(net: SearchNet, ids: NDArray, y: NDArray, batch_size: int = 8192) -> torch.Tensor:
    """``(n, F)`` first-order field terms ``a_f = <dL/de_f, e_f - mean(e_f)>`` on rows ``ids``."""
    net.eval()
    with torch.no_grad():
        mean = torch.cat([net.embedding(x) for x, _ in batches(ids, y, batch_size, None)]).mean(0)
    terms = []
    for x, target in batches(ids, y, batch_size, None):
        emb = net.embedding(x).detach().requires_grad_(True)
        logits = net.tower(net.gate(emb, x).flatten(1)).squeeze(-1)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum")
        (grad,) = torch.autograd.grad(loss, emb)
        terms.append((grad * (emb.detach() - mean)).sum(-1))
    return torch.cat(terms)


def tay_scores(terms: torch.Tensor) -> dict[Cross, float]:
    """Order-2 and order-3 cross scores from the ``(n, F)`` field terms (see the module doc)."""
    a = terms.abs().double()
    n, f = a.shape
    s2 = a.T @ a / n
    s3 = torch.zeros(f, f, f, dtype=torch.float64)
    for chunk in a.split(SCORE_ROWS):
        pairs = (chunk[:, :, None] * chunk[:, None, :]).reshape(len(chunk), f * f)
        s3 += (pairs.T @ chunk).reshape(f, f, f)
    s3 /= n
    scores: dict[Cross, float] = {}
    for i, j in itertools.combinations(range(f), 2):
        scores[(i, j)] = float(2 * s2[i, j] + 3 * (s3[i, i, j] + s3[i, j, j]))
    for i, j, k in itertools.combinations(range(f), 3):
        scores[(i, j, k)] = float(6 * s3[i, j, k])
    return scores


def cross_ids(
    ids: NDArray, crosses: list[Cross], sizes: tuple[int, ...]
) -> tuple[NDArray, list[int]]:
    """``(n, C)`` ids of each cross (mixed radix over its fields, hashed into ``HASH_BUCKETS``)."""
    cols, buckets = [], []
    for cross in crosses:
        combined = np.zeros(len(ids), dtype=np.int64)
        total = 1
        for f in cross:
            combined = combined * sizes[f] + ids[:, f]
            total *= sizes[f]
        bucket = min(total, HASH_BUCKETS)
        cols.append(combined % bucket)
        buckets.append(bucket)
    return np.stack(cols, axis=1), buckets


class CrossLR(nn.Module):
    """Logistic regression on ``(B, F + C)`` ids: one weight per field value and per cross value."""

    def __init__(self, field_sizes: tuple[int, ...], cross_sizes: list[int]) -> None:
        super().__init__()
        self.num_fields = len(field_sizes)
        self.fields = FieldEmbedding(field_sizes, 1)
        self.crosses = FieldEmbedding(cross_sizes, 1)
        self.bias = nn.Parameter(torch.zeros(1))

    def terms(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The fields' summed weight ``(B,)`` and each cross's weight ``(B, C)``."""
        fields = self.fields(ids[:, : self.num_fields]).sum((1, 2))
        return fields, self.crosses(ids[:, self.num_fields :]).squeeze(-1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        fields, crosses = self.terms(ids)
        return self.bias + fields + crosses.sum(-1)


def lre_eliminated(data: SearchData, cfg: SearchConfig, seed: int, top: list[Cross]) -> set[Cross]:
    """Crosses among ``top`` whose removal lowers the holdout log loss of the LR (LRE)."""
    fit_x, buckets = cross_ids(data.ids, top, data.vocab_sizes)
    hold_x, _ = cross_ids(data.holdout_ids, top, data.vocab_sizes)
    lr_data = dataclasses.replace(
        data,
        ids=np.concatenate([data.ids, fit_x], axis=1),
        holdout_ids=np.concatenate([data.holdout_ids, hold_x], axis=1),
    )
    lr = CrossLR(data.vocab_sizes, buckets)
    lr_cfg = dataclasses.replace(cfg, lr=cfg.lr * LRE_LR_SCALE)
    train(lr, lr_data, lr_cfg, seed)
    with torch.no_grad():
        ids = torch.from_numpy(lr_data.holdout_ids)
        fields, crosses = lr.terms(ids)
        y = torch.from_numpy(data.holdout_y)
        base_logits = lr.bias + fields + crosses.sum(-1)
        base = nn.functional.binary_cross_entropy_with_logits(base_logits, y)
        eliminated = set()
        for c, cross in enumerate(top):
            removed = base_logits - crosses[:, c] + crosses[:, c].mean()
            loss = nn.functional.binary_cross_entropy_with_logits(removed, y)
            if float(loss - base) < 0:
                eliminated.add(cross)
    return eliminated


def tayfcs(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    start = time.perf_counter()
    net = SearchNet(data, cfg, Gate())
    train(net, data, cfg, seed)
    ranked = rank_crosses(tay_scores(taylor_terms(net, data.holdout_ids, data.holdout_y)))
    eliminated = lre_eliminated(data, cfg, seed, [c for c, _ in ranked[:LRE_CROSSES]])
    kept = [(c, s) for c, s in ranked if c not in eliminated]
    detail = {
        "crosses": cross_record(data.fields, kept),
        "eliminated": cross_record(data.fields, [(c, s) for c, s in ranked if c in eliminated]),
    }
    scores = first_appearance(data.fields, ranked)
    return FieldScores(scores, search_seconds=time.perf_counter() - start, detail=detail)
