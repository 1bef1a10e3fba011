"""Information measures on count tables (REACTION.md, "The information measures"), in nats.

Every function is pure and takes counts, never rows: AFE and the redundancy report build the tables
once (``reaction.info.counts``) and evaluate many measures on them. Conventions:

* a *dense* table is an array of non-negative counts whose axes are variables, e.g. ``(X, Y)`` or
  ``(X, Z, Y)``; zero cells are allowed and ignored;
* a *sparse* table lists only non-empty cells: ``counts`` of shape ``(n, C)`` (the last axis is
  the label, dense) with compact codes ``x_index``/``z_index`` of shape ``(n,)`` naming each cell
  (``(x, z)`` pairs must be unique), as two high-cardinality fields need;
* ``correction="miller_madow"`` adds the Miller–Madow bias term ``(m - 1) / (2N)`` to every
  entropy (``m`` non-empty cells, ``N`` total count; Miller 1955), so an MI or conditional MI gets
  ``sum(+-(m_k - 1)) / (2N)`` over the entropies it is made of. It removes the first-order
  ``O(1/N)`` bias of the plug-in estimator, which otherwise makes any many-valued field look
  informative; the corrected MI can be slightly negative for independent variables.

The permutation null level lives in ``reaction.info.permutation``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Correction = Literal["none", "miller_madow"]
CORRECTIONS: tuple[str, ...] = ("none", "miller_madow")


# n log n for integer counts below 2**16: a table lookup is ~15x faster than np.log, and pair
# tables of high-cardinality fields make entropy the report's hot loop.
_XLOGX_SIZE = 2**16
_XLOGX = np.arange(_XLOGX_SIZE, dtype=np.float64)
_XLOGX[1:] *= np.log(_XLOGX[1:])


def as_counts(counts: ArrayLike, ndim: int | None = None, name: str = "table") -> NDArray:
    """Validate a count table: finite, non-negative, non-empty total, optional dimensionality.

    Integer tables stay int64 (exact sums, fast entropies); others become float64.
    """
    array = np.asarray(counts)
    integer = array.dtype.kind in "iub"
    array = array.astype(np.int64 if integer else np.float64, copy=False)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D count table, got shape {array.shape}")
    if array.size == 0 or not (integer or np.all(np.isfinite(array))):
        raise ValueError(f"{name}: empty or non-finite count table, shape {array.shape}")
    if array.min() < 0:
        raise ValueError(f"{name}: negative counts, min {array.min()}")
    if array.sum() <= 0:
        raise ValueError(f"{name}: empty table (total count {array.sum()})")
    return array


def _xlogx(c: NDArray) -> NDArray:
    """``c log c`` per cell (``0 log 0 = 0``), by table lookup for small integer counts."""
    if c.dtype.kind == "i" and c.max() < _XLOGX_SIZE:
        return _XLOGX[c]
    x = c.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def _sum_xlogx(c: NDArray) -> float:
    """``sum c log c`` over the cells."""
    if c.dtype.kind == "i" and c.max() < _XLOGX_SIZE:
        return float(_XLOGX[c].sum())
    x = c[c > 0].astype(np.float64)
    return float(np.dot(x, np.log(x)))


def _check_correction(correction: str) -> None:
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; expected one of {CORRECTIONS}")


def _h(counts: NDArray, correction: str) -> float:
    """Entropy of an already validated table, flattened: ``log N - sum c log c / N``."""
    total = float(counts.sum())
    value = float(np.log(total)) - _sum_xlogx(counts.ravel()) / total
    if correction == "miller_madow":
        value += (np.count_nonzero(counts) - 1) / (2.0 * total)
    return value


def entropy(counts: ArrayLike, correction: Correction = "none") -> float:
    """``H`` of the distribution given by ``counts`` (any shape, flattened), in nats."""
    _check_correction(correction)
    return _h(as_counts(counts), correction)


def miller_madow_bias(counts: ArrayLike) -> float:
    """The Miller–Madow term ``(m - 1) / (2N)`` that ``correction="miller_madow"`` adds to ``H``."""
    c = as_counts(counts)
    return (int(np.count_nonzero(c)) - 1) / (2.0 * c.sum())


def mutual_information(joint: ArrayLike, correction: Correction = "none") -> float:
    """``I(X;Y) = H(X) + H(Y) - H(X,Y)`` of a dense ``(X, Y)`` table (plug-in or Miller–Madow).

    The plug-in value equals ``sklearn.metrics.mutual_info_score(contingency=joint)``.
    """
    _check_correction(correction)
    t = as_counts(joint, ndim=2)
    return _h(t.sum(1), correction) + _h(t.sum(0), correction) - _h(t, correction)


def _batch_h(t: NDArray, axes: tuple[int, ...], correction: str) -> NDArray:
    """Entropy of each table in a stack, over ``axes`` (the others summed out first)."""
    total = t.sum(axis=tuple(range(1, t.ndim)))
    kept = t.sum(axis=tuple(a for a in range(1, t.ndim) if a not in axes)) if axes else t
    flat = kept.reshape(t.shape[0], -1)
    value = np.log(total) - _xlogx(flat).sum(1) / total
    if correction == "miller_madow":
        value += (np.count_nonzero(flat, axis=1) - 1) / (2.0 * total)
    return value


def mutual_information_batch(tables: ArrayLike, correction: Correction = "none") -> NDArray:
    """``I(X;Y)`` of each of ``K`` dense tables stacked as ``(K, X, Y)`` -> ``(K,)``.

    The same values as ``mutual_information`` per table, vectorised for permutation nulls.
    """
    _check_correction(correction)
    t = as_counts(tables, ndim=3, name="table stack")
    if np.any(t.sum(axis=(1, 2)) <= 0):
        raise ValueError("table stack: a table with total count 0")
    return (
        _batch_h(t, (1,), correction)
        + _batch_h(t, (2,), correction)
        - _batch_h(t, (1, 2), correction)
    )


def conditional_mutual_information(joint: ArrayLike, correction: Correction = "none") -> float:
    """``I(X;Z|Y) = H(X,Y) + H(Z,Y) - H(X,Z,Y) - H(Y)`` of a dense ``(X, Z, Y)`` table.

    Conditioning is on the *last* axis: ``(X, X_j, Y_l)`` gives the collaborative term
    ``I(X_i;X_j|Y_l)``, ``(X, Y_l, Y_l')`` the behaviour term ``I(X;Y_l|Y_l')`` of AFE.
    """
    _check_correction(correction)
    t = as_counts(joint, ndim=3)
    return (
        _h(t.sum(1), correction)
        + _h(t.sum(0), correction)
        - _h(t, correction)
        - _h(t.sum((0, 1)), correction)
    )


def relevance(joint: ArrayLike, correction: Correction = "miller_madow") -> float:
    """``I(X;Y) / H(Y)`` of a dense ``(X, Y)`` table: the share of the label's entropy explained.

    ``H(Y)`` is the plug-in entropy (a label has few cells, so its bias is negligible).
    """
    t = as_counts(joint, ndim=2)
    h_y = _h(t.sum(0), "none")
    return mutual_information(t, correction) / h_y if h_y > 0 else 0.0


def symmetric_uncertainty(mi: float, h_x: float, h_z: float) -> float:
    """``2 I(X;Z) / (H(X) + H(Z))`` in ``[0, 1]`` (Witten & Frank): redundancy between fields."""
    if min(h_x, h_z) < 0:
        raise ValueError(f"entropies must be >= 0, got {h_x}, {h_z}")
    total = h_x + h_z
    return float(np.clip(2.0 * mi / total, 0.0, 1.0)) if total > 0 else 0.0


def _group_sum(index: NDArray, counts: NDArray) -> NDArray:
    """Sum the rows of ``counts`` (n, C) that share a code in ``index`` (n,) -> (max + 1, C)."""
    size = int(index.max()) + 1
    return np.stack([np.bincount(index, counts[:, c], size) for c in range(counts.shape[1])], 1)


def _sparse_args(counts: ArrayLike, x_index: ArrayLike, z_index: ArrayLike) -> tuple:
    c = as_counts(counts, name="sparse table")
    c = c[:, None] if c.ndim == 1 else c
    x, z = np.asarray(x_index), np.asarray(z_index)
    if c.ndim != 2 or x.shape != (c.shape[0],) or z.shape != (c.shape[0],):
        raise ValueError(f"sparse table: counts {c.shape}, x_index {x.shape}, z_index {z.shape}")
    if x.min() < 0 or z.min() < 0:
        raise ValueError(f"sparse table: negative codes (min x {x.min()}, min z {z.min()})")
    return c, x.astype(np.int64), z.astype(np.int64)


def sparse_mutual_information(
    counts: ArrayLike, x_index: ArrayLike, z_index: ArrayLike, correction: Correction = "none"
) -> float:
    """``I(X;Z)`` from the non-empty cells of a sparse table (label axis, if any, summed out)."""
    _check_correction(correction)
    c, x, z = _sparse_args(counts, x_index, z_index)
    cells = c.sum(1)
    h_x = _h(np.bincount(x, cells), correction)
    h_z = _h(np.bincount(z, cells), correction)
    return h_x + h_z - _h(cells, correction)


def sparse_conditional_mutual_information(
    counts: ArrayLike, x_index: ArrayLike, z_index: ArrayLike, correction: Correction = "none"
) -> float:
    """``I(X;Z|Y)`` from a sparse ``(n, C)`` table: ``H(XY) + H(ZY) - H(XZY) - H(Y)``."""
    _check_correction(correction)
    c, x, z = _sparse_args(counts, x_index, z_index)
    return (
        _h(_group_sum(x, c), correction)
        + _h(_group_sum(z, c), correction)
        - _h(c, correction)
        - _h(c.sum(0), correction)
    )


def pair_synergy(
    counts: ArrayLike, x_index: ArrayLike, z_index: ArrayLike, correction: Correction = "none"
) -> float:
    """``I(X,Z;Y) - I(X;Y) - I(Z;Y)`` from a sparse ``(n, C)`` table of one pair and one label.

    Positive: the pair says more about ``Y`` together than apart (an interaction, as AFE's
    collaborative term rewards); negative: they repeat each other. All three terms come from the
    same table, so their sample (and their bias) is the same.
    """
    c, x, z = _sparse_args(counts, x_index, z_index)
    joint = mutual_information(c, correction)  # rows are the unique (x, z) cells
    return (
        joint
        - mutual_information(_group_sum(x, c), correction)
        - mutual_information(_group_sum(z, c), correction)
    )


def value_contributions(joint: ArrayLike, shrinkage: float = 0.0) -> NDArray:
    """Per-value ``c(x) = p(x) KL(p(y|x) || p(y))`` of a dense ``(X, Y)`` table, shape ``(X,)``.

    Without shrinkage ``sum_x c(x)`` is exactly the plug-in ``I(X;Y)``: the MI is an average of
    per-value divergences, which says which values carry the field's information (AFE's vocabulary
    compression keeps the fewest values reaching a share of it). A value seen a few times has a
    noisy ``p(y|x)`` and a spuriously large KL, so ``shrinkage`` = ``a`` pseudo-counts pull it
    toward the label marginal: ``p~(y|x) = (n(x,y) + a p(y)) / (n(x) + a)`` (the posterior mean
    under a Dirichlet prior centred on ``p(y)``). Values with ``n(x) >> a`` are unaffected; unseen
    values (``n(x) = 0``) contribute 0.
    """
    if shrinkage < 0:
        raise ValueError(f"shrinkage must be >= 0, got {shrinkage}")
    t = as_counts(joint, ndim=2).astype(np.float64)
    n_x, total = t.sum(1), t.sum()
    p_y = t.sum(0) / total
    denom = n_x + shrinkage
    seen = denom > 0
    cond = np.zeros_like(t)
    cond[seen] = (t[seen] + shrinkage * p_y) / denom[seen, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(cond > 0, cond * np.log(cond / np.where(p_y > 0, p_y, 1.0)), 0.0)
    return n_x / total * terms.sum(1)


def retention_curve(contributions: ArrayLike) -> NDArray:
    """Share of ``sum c(x)`` kept by the top ``k`` values, ``k = 1..X``, values sorted by ``c(x)``.

    Entry ``k - 1`` is the MI share a vocabulary of the ``k`` most informative values keeps; the
    curve ends at 1 (all values). A field whose contributions are all 0 gives a curve of zeros.
    """
    c = np.asarray(contributions, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or np.any(c < 0) or not np.all(np.isfinite(c)):
        raise ValueError(f"contributions must be a non-empty 1-D array >= 0, got shape {c.shape}")
    kept = np.cumsum(np.sort(c)[::-1])
    return kept / kept[-1] if kept[-1] > 0 else np.zeros_like(kept)
