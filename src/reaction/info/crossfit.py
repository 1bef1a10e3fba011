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

Cost: ``CrossFitter`` draws the folds once and caches each field's held-out ``p^(y|x)`` per row,
so a pair adds one integer ``bincount`` of its cells and a few vectorised passes over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from reaction.info.counts import RowSample, pair_cells

_EPS = 1e-6
MODELS = ("additive", "cell")


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


def _logit(p: NDArray) -> NDArray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _log_lik(p: NDArray, y: NDArray) -> NDArray:
    return np.log(np.clip(np.where(y == 1, p, 1 - p), _EPS, None))


class CrossFitter:
    """Cross-fitted information of fields on one row sample: two seeded folds, each row scored
    by models counted on the other fold; per-field models are cached (float32, one per label).
    """

    def __init__(self, sample: RowSample, shrinkage: float = 10.0, seed: int = 0) -> None:
        if shrinkage <= 0:
            raise ValueError(f"shrinkage must be > 0 (pseudo-counts), got {shrinkage}")
        self.sample, self.shrinkage = sample, shrinkage
        self.fold = np.random.default_rng(seed).permutation(sample.size) % 2
        self.y = {name: sample.label(name) for name in sample.labels}
        self.base = {name: self._held_out(np.zeros_like(y), y, 0.5) for name, y in self.y.items()}
        self.base_logit = {name: _logit(p) for name, p in self.base.items()}
        self._models: dict[tuple[str, str], NDArray] = {}

    def _held_out(self, codes: NDArray, y: NDArray, prior: NDArray | float) -> NDArray:
        """Per row ``(n1 + a prior) / (n + a)``, counted over the *other* fold's rows with the
        row's code (one integer bincount of ``(code, fold, y)``, two flat gathers)."""
        key = (codes * 2 + self.fold) * 2 + y
        table = np.bincount(key, minlength=4 * (int(codes.max()) + 1))
        at = (codes * 2 + 1 - self.fold) * 2  # the row's code, other fold, y = 0
        ones = table[at + 1]
        return (ones + self.shrinkage * prior) / (table[at] + ones + self.shrinkage)

    def _model(self, field: str, label: str) -> tuple[NDArray, NDArray]:
        """``logit p^(y|x)`` of ``field`` per row (shrunk toward the base rate) and its row
        log-likelihood (cached, float32)."""
        if (field, label) not in self._models:
            codes = self.sample.codes(field)[1]
            p = self._held_out(codes, self.y[label], self.base[label])
            pair = np.stack([_logit(p), _log_lik(p, self.y[label])]).astype(np.float32)
            self._models[field, label] = pair
        logit, log_lik = self._models[field, label]
        return logit.astype(np.float64), log_lik.astype(np.float64)

    def _best(self, gains: NDArray) -> HeldOutGain:
        """The better of the models' ``(2, n)`` per-row gains."""
        best = int(np.argmax(gains.mean(1)))
        stderr = np.std(gains[best]) / np.sqrt(gains.shape[1])
        return HeldOutGain(float(gains[best].mean()), float(stderr), MODELS[best])

    def conditional(self, m: str, s: str, cells: NDArray | None = None) -> HeldOutGain:
        """``sum_l I_cf(X_m; Y_l | X_s)``; ``cells``: each row's ``(m, s)`` cell if known."""
        cells = pair_cells(self.sample, m, s)[0] if cells is None else cells
        gains = np.zeros((2, self.sample.size))
        for label, y in self.y.items():
            (logit_s, ll_s), (logit_m, _) = self._model(s, label), self._model(m, label)
            additive = 1.0 / (1.0 + np.exp(self.base_logit[label] - logit_s - logit_m))
            gains[0] += _log_lik(additive, y) - ll_s
            gains[1] += _log_lik(self._held_out(cells, y, additive), y) - ll_s
        return self._best(gains)

    def information(self, m: str) -> HeldOutGain:
        """``sum_l I_cf(X_m; Y_l)``: the same estimator given a constant, the scale on which a
        cross-fitted conditional term is compared with the field's own information (a
        rare-valued field's held-out information is far below its plug-in MI)."""
        gains = sum(
            self._model(m, label)[1] - _log_lik(self.base[label], y) for label, y in self.y.items()
        )
        return self._best(np.stack([gains, gains]))


def crossfit_conditional_information(
    sample: RowSample, m: str, s: str, shrinkage: float = 10.0, seed: int = 0
) -> HeldOutGain:
    """``sum_l I_cf(X_m; Y_l | X_s)`` on ``sample`` (one pair; ``CrossFitter`` for many)."""
    return CrossFitter(sample, shrinkage, seed).conditional(m, s)


def crossfit_information(
    sample: RowSample, m: str, shrinkage: float = 10.0, seed: int = 0
) -> HeldOutGain:
    """``sum_l I_cf(X_m; Y_l)`` on ``sample`` (one field; ``CrossFitter`` for many)."""
    return CrossFitter(sample, shrinkage, seed).information(m)
