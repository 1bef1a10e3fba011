"""Cross-fitted conditional information ``I(X_m; Y | X_s)`` for pairs too sparse to count.

Why: the plug-in (even Miller–Madow and shuffle corrected) estimate of ``I(X_m;Y|X_s)`` needs
tens of rows per ``(x_m, x_s)`` cell; user x item has a few rows per cell, so the pair's terms
were "not estimable" and counted 0 -- exactly the pairs where interaction-only fields (a user
under sampled negatives) carry all their information. A held-out estimate has no such limit:

    I_cf = mean over rows of  log p^(y | x_s, x_m) - log p^(y | x_s)

with both models fitted on the *other* fold (2-fold cross-fitting, every row scored once). Fitted
and scored on different rows, a cell seen once cannot memorise its label, so a field independent
of ``Y`` given ``X_s`` scores <= 0 in expectation, whatever its cardinality: no bias term to
subtract and no permutation null to draw; the mean's standard error gives a z-test. Because the
fitted models are imperfect the value is a conservative (low) estimate of the true information.

The models are shrunk count ratios (Dirichlet pseudo-counts ``a``): ``p^(y|x_s)`` toward
``p(y)``, and for ``p^(y|x_s,x_m)`` two candidates: the *additive* model
``sigmoid(logit p^(y|x_s) + logit p^(y|x_m) - logit p(y))`` (main effects only) and the *cell*
model, the ``(x_s, x_m)`` cell's counts shrunk toward the additive one (the interaction). The
estimate is the better held-out gain of the two: the additive model keeps a weak independent
field's ``I(X_m;Y)`` where sparse cells would cost more than it is worth, the cell model finds
the interaction, and a copy of ``X_s`` double-counts the evidence in both and scores <= 0 (so
the redundancy guard still works). Choosing the better of two fixed models biases the estimate
up by at most about one standard error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from reaction.info.counts import RowSample, pair_cells

_EPS = 1e-6


@dataclass(frozen=True)
class HeldOutGain:
    """Held-out log-likelihood gain per row (nats), summed over labels, with its std error and
    the model (``"additive"`` or ``"cell"``) that achieved it."""

    gain: float
    stderr: float
    model: str = "cell"

    @property
    def z(self) -> float:
        return self.gain / self.stderr if self.stderr > 0 else 0.0


def _shrunk(codes: NDArray, y: NDArray, fit: NDArray, prior: NDArray | float, a: float) -> NDArray:
    """``(n(x, y=1) + a prior) / (n(x) + a)`` per row, counts from the ``fit`` rows only.

    ``prior`` is a scalar or one value per row (the additive prior of the row's cell)."""
    size = int(codes.max()) + 1
    ones = np.bincount(codes[fit], y[fit], minlength=size)[codes]
    total = np.bincount(codes[fit], minlength=size)[codes]
    return (ones + a * prior) / (total + a)


def _logit(p: NDArray | float) -> NDArray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _log_lik(p: NDArray, y: NDArray) -> NDArray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.where(y == 1, np.log(p), np.log1p(-p))


def _row_gains(
    x_s: NDArray, x_m: NDArray, cell: NDArray, y: NDArray, fold: NDArray, a: float
) -> NDArray:
    """``(2, n)``: per row, the log-likelihood gain over ``p^(y|x_s)`` of the additive and the
    cell model, each fitted on the other fold."""
    out = np.empty((2, y.size))
    for k in (0, 1):
        fit, score = fold != k, fold == k
        base = float(y[fit].mean())
        p_s = _shrunk(x_s, y, fit, base, a)
        p_m = _shrunk(x_m, y, fit, base, a)
        additive = 1.0 / (1.0 + np.exp(-(_logit(p_s) + _logit(p_m) - _logit(base))))
        p_cell = _shrunk(cell, y, fit, additive, a)
        ll_s = _log_lik(p_s[score], y[score])
        out[0, score] = _log_lik(additive[score], y[score]) - ll_s
        out[1, score] = _log_lik(p_cell[score], y[score]) - ll_s
    return out


def _best_gain(
    sample: RowSample, x_s: NDArray, x_m: NDArray, cell: NDArray, a: float, seed: int
) -> HeldOutGain:
    if a <= 0:
        raise ValueError(f"shrinkage must be > 0 (pseudo-counts), got {a}")
    fold = np.random.default_rng(seed).permutation(sample.size) % 2
    gains = sum(_row_gains(x_s, x_m, cell, sample.label(y), fold, a) for y in sample.labels)
    best = int(np.argmax(gains.mean(1)))
    stderr = np.std(gains[best]) / np.sqrt(sample.size)
    return HeldOutGain(float(gains[best].mean()), float(stderr), ("additive", "cell")[best])


def crossfit_conditional_information(
    sample: RowSample, m: str, s: str, shrinkage: float = 10.0, seed: int = 0
) -> HeldOutGain:
    """``sum_l I_cf(X_m; Y_l | X_s)`` on ``sample`` (two folds drawn with ``seed``)."""
    x_s, x_m = sample.codes(s)[1], sample.codes(m)[1]
    return _best_gain(sample, x_s, x_m, pair_cells(sample, m, s)[0], shrinkage, seed)


def crossfit_information(
    sample: RowSample, m: str, shrinkage: float = 10.0, seed: int = 0
) -> HeldOutGain:
    """``sum_l I_cf(X_m; Y_l)``: the same estimator given a constant, the scale on which a
    cross-fitted conditional term is compared with the field's own information (a rare-valued
    field's held-out information is far below its plug-in MI)."""
    x_m = sample.codes(m)[1]
    return _best_gain(sample, np.zeros_like(x_m), x_m, x_m, shrinkage, seed)
