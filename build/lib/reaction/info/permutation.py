"""The permutation null level of ``I(X;Y)``: how much MI a field shows when it carries none.

Definition (REACTION.md): the ``q``-quantile of ``I(X;Y_perm)`` over ``K`` uniform permutations of
the label column. A field whose estimated relevance does not exceed it is indistinguishable from
noise at level ``1 - q``; the null grows with the field's cardinality and shrinks with ``N``,
which is exactly the bias a fixed threshold would miss.

How it is computed without rows: permuting the labels keeps both margins of the ``(X, Y)`` table
(rows per value ``n(x)``, rows per label ``n(y)``), and the permuted table is then distributed as
a multivariate hypergeometric: the ``n(x)`` rows of value ``x`` receive a uniformly random subset
of the label multiset. :func:`permuted_tables` draws that table *exactly* by recursive halving:
split the values in two halves, draw how many of each label the first half gets (sequential
hypergeometrics given the halves' row totals), recurse. It needs only the margins, costs
``O(V C log V)`` per permutation and never touches the training file again, so the null is as
cheap at 45M rows as at 45k. :func:`permutation_null_rows` is the textbook row-level definition,
kept to check the table sampler against (and for callers that already hold rows).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from reaction.info.estimators import (
    Correction,
    as_counts,
    mutual_information,
    mutual_information_batch,
)

_MAX_ROWS = 10**9
_BATCH_CELLS = 2**20


def _check(num_permutations: int, quantile: float) -> None:
    if num_permutations < 1:
        raise ValueError(f"num_permutations must be >= 1, got {num_permutations}")
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")


def _split_labels(rng: np.random.Generator, labels: NDArray, take: NDArray) -> NDArray:
    """Per segment, label counts of ``take`` rows drawn without replacement from ``labels``.

    ``labels`` (S, C) label counts of S segments, ``take`` (S,) rows drawn from each.
    """
    out = np.zeros_like(labels)
    left_total = labels.sum(1)
    left_take = take.copy()
    for c in range(labels.shape[1] - 1):
        good = labels[:, c]
        out[:, c] = rng.hypergeometric(good, left_total - good, left_take)
        left_take -= out[:, c]
        left_total -= good
    out[:, -1] = left_take
    return out


def permuted_tables(
    rng: np.random.Generator, row_totals: ArrayLike, label_totals: ArrayLike, num: int = 1
) -> NDArray:
    """``(num, X, C)`` tables with the given margins, each distributed as under a permutation.

    All ``num`` tables are drawn together: segments of every table are halved level by level,
    so the Python loop runs ``log2(X)`` times whatever ``num`` is.
    """
    rows = np.asarray(row_totals, dtype=np.int64)
    labels = np.asarray(label_totals, dtype=np.int64)
    if rows.ndim != 1 or labels.ndim != 1 or rows.sum() != labels.sum() or rows.min() < 0:
        raise ValueError(f"margins disagree: rows sum {rows.sum()}, labels sum {labels.sum()}")
    if rows.sum() >= _MAX_ROWS:  # numpy's hypergeometric sampler takes populations < 1e9
        raise ValueError(f"permuted_tables supports < {_MAX_ROWS} rows, got {rows.sum()}")
    cum = np.concatenate([[0], np.cumsum(rows)])
    lo, hi = np.zeros(num, dtype=np.int64), np.full(num, rows.size)  # segments [lo, hi)
    seg_labels = np.tile(labels, (num, 1))
    while np.any(hi - lo > 1):
        mid = np.where(hi - lo > 1, (lo + hi) // 2, hi)
        left = _split_labels(rng, seg_labels, cum[mid] - cum[lo])
        lo, hi = np.stack([lo, mid], 1).ravel(), np.stack([mid, hi], 1).ravel()
        seg_labels = np.stack([left, seg_labels - left], 1).reshape(-1, labels.size)
        keep = hi > lo  # drops the empty right halves of single values; order is kept
        lo, hi, seg_labels = lo[keep], hi[keep], seg_labels[keep]
    return seg_labels.reshape(num, rows.size, labels.size)


def permutation_null(
    joint: ArrayLike,
    num_permutations: int = 100,
    quantile: float = 0.99,
    seed: int = 0,
    correction: Correction = "miller_madow",
) -> float:
    """``q``-quantile of ``I(X;Y_perm)`` of a dense ``(X, Y)`` table over ``K`` permutations.

    Use the same ``correction`` as the relevance it is compared with. Tables are drawn in
    batches of at most ``2**20`` cells, so memory stays small for huge vocabularies.
    """
    _check(num_permutations, quantile)
    t = as_counts(joint, ndim=2)
    if t.dtype.kind != "i":
        raise ValueError("permutation_null needs integer counts")
    rng = np.random.default_rng(seed)
    rows, labels = t.sum(1), t.sum(0)
    batch = max(1, _BATCH_CELLS // t.size)
    values = []
    for start in range(0, num_permutations, batch):
        num = min(batch, num_permutations - start)
        values.append(mutual_information_batch(permuted_tables(rng, rows, labels, num), correction))
    return float(np.quantile(np.concatenate(values), quantile))


def permutation_null_rows(
    x: ArrayLike,
    y: ArrayLike,
    num_permutations: int = 100,
    quantile: float = 0.99,
    seed: int = 0,
    correction: Correction = "miller_madow",
) -> float:
    """The same null from row-level codes ``x``, ``y`` (non-negative ints), permuting ``y``."""
    _check(num_permutations, quantile)
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0 or min(x.min(), y.min()) < 0:
        raise ValueError(f"x and y must be equal-length 1-D codes >= 0: {x.shape}, {y.shape}")
    rng = np.random.default_rng(seed)
    width = int(y.max()) + 1
    values = []
    for _ in range(num_permutations):
        cells = np.bincount(x * width + rng.permutation(y), minlength=(x.max() + 1) * width)
        values.append(mutual_information(cells.reshape(-1, width), correction))
    return float(np.quantile(values, quantile))
