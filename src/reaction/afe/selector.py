"""The paper's AFE selector: greedy forward selection of fields by ``J = PI + BI + CI``.

For a candidate ``X_m`` and the chosen set ``S`` (REACTION.md, "AFE"), in nats::

    PI = sum_l I(X_m; Y_l)                                        full training split
    BI = sum_{l<l'} [ I(X_m; Y_l | Y_l') - I(X_m; Y_l) ]          full training split
    CI = (1/|S|) sum_{s in S} sum_l [ I(X_m; X_s | Y_l) - I(X_m; X_s) ]   row sample

PI and BI are fixed per field. The collaborative terms of a pair never change once both fields
exist, so they are computed once, when ``X_s`` joins ``S``, for every remaining candidate and
summed into a running total: a step costs one pair table per candidate (linear in the fields
left), not ``|S|`` of them.

**Redundancy guard** (``redundancy_guard``, our reading; off gives the formula verbatim). Each
collaborative term is ``I(X_m;Y|X_s) - I(X_m;Y)`` summed over labels, so ``CI`` averages how much
of ``X_m``'s information each chosen field explains away. The average dilutes it: an exact copy
of a chosen field scores ``J = PI (1 - 1/|S|)`` and is picked as soon as ``|S| > 1``. The guard
applies the paper's stop rule per pair instead: a candidate whose conditional relevance given some
chosen field, ``sum_l I(X_m;Y_l|X_s)``, is below ``redundancy_ratio`` of its own ``PI`` (and
significantly so, ``redundancy_z``) adds nothing once ``X_s`` is in: dropped as redundant.

**Interactions** (``interactions="crossfit"``, our extension; ``"off"`` is the above verbatim).
A field at the permutation null is noise only without interaction evidence
(``reaction.afe.interactions``), and a pair too sparse for the plug-in terms gets the
cross-fitted ``I(X_m;Y|X_s)`` (``reaction.info.crossfit``) instead of counting 0; its
collaborative term follows from the interaction-information identity
``sum_l [I(X_m;X_s|Y_l) - I(X_m;X_s)] = sum_l I(X_m;Y_l|X_s) - sum_l I(X_m;Y_l)``, both terms
cross-fitted (one estimator, one scale: a held-out estimate is conservative, far below the
plug-in PI for a rare-valued field, so mixing scales would call independent long-tail fields
redundant). Pairs dense enough for the plug-in keep it, so where no pair is sparse the selection
is the paper's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from reaction.afe.config import AFEConfig
from reaction.afe.interactions import split_noise
from reaction.info.counts import (
    CountTables,
    RowSample,
    cell_label_counts,
    label_table,
    pair_cells,
)
from reaction.info.crossfit import CrossFitter
from reaction.info.estimators import (
    conditional_mutual_information,
    entropy,
    mutual_information,
)
from reaction.info.permutation import permutation_null

log = logging.getLogger(__name__)

NOISE, BUDGET, THRESHOLD, REDUNDANT = "noise", "budget", "below_threshold", "redundant"


@dataclass(frozen=True)
class FieldInfo:
    """Per-field terms that do not depend on ``S``: relevance and null level per label, PI, BI."""

    field: str
    mi: dict[str, float]
    null: dict[str, float]
    pi: float
    bi: float

    @property
    def noise(self) -> bool:
        """At or below the permutation null for every label: no evidence of any information."""
        return all(self.mi[label] <= self.null[label] for label in self.mi)


@dataclass(frozen=True)
class Chosen:
    """One selected field with the terms of ``J`` at the step it was picked."""

    field: str
    j: float
    pi: float
    bi: float
    ci: float


@dataclass(frozen=True)
class Dropped:
    field: str
    reason: str
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    chosen: tuple[Chosen, ...]
    dropped: tuple[Dropped, ...]
    info: dict[str, FieldInfo]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.chosen)


def field_info(
    tables: CountTables, labels: tuple[str, ...], cfg: AFEConfig
) -> dict[str, FieldInfo]:
    """PI, BI, relevance and null level of every counted field (full training split)."""
    out = {}
    for name, counts in tables.fields.items():
        mi = {y: mutual_information(counts.table(y), cfg.correction) for y in labels}
        null = {
            y: permutation_null(
                counts.table(y), cfg.null_permutations, cfg.null_quantile, cfg.seed, cfg.correction
            )
            for y in labels
        }
        bi = sum(
            conditional_mutual_information(counts.table(a, b), cfg.correction) - mi[a]
            for i, a in enumerate(labels)
            for b in labels[i + 1 :]
        )
        out[name] = FieldInfo(name, mi, null, float(sum(mi.values())), float(bi))
    return out


@dataclass(frozen=True)
class PairTerm:
    """What a chosen field ``X_s`` says about candidate ``X_m`` (sums over labels, nats)."""

    collaborative: float  # sum_l I(X_m;X_s|Y_l) - I(X_m;X_s)
    conditional: float  # sum_l I(X_m;Y_l|X_s)
    stderr: float  # standard error of ``conditional`` (chi-square approx., or held out)
    relevance: float | None = None  # sum_l I(X_m;Y_l) on the same scale; None: the plug-in PI


class PairTerms:
    """Pair terms of a candidate with a chosen field on the row sample, shuffle-corrected.

    ``collaborative`` = ``sum_l [I(X_m;X_s|Y_l) - I(X_m;X_s)]`` and ``conditional_relevance`` =
    ``sum_l I(X_m;Y_l|X_s)``, each a signed sum of (corrected) entropies of one sparse table.
    Two fields of thousands of values make a table with more cells than sample rows, where even
    Miller–Madow leaves a bias of order ``|X_m| |X_s| / 2N`` (0.09 nats for two long-tail fields
    of the synthetic data, ten times a planted interaction). The same terms computed with the
    labels shuffled (``pair_shuffles`` seeded permutations of the sample's label column) measure
    exactly that bias, and it is subtracted -- the shuffle correction of MI estimation.

    Below ~``pair_min_rows_per_cell`` sample rows per non-empty ``(x_m, x_s)`` cell no
    correction rescues the estimate (two long-tail fields: 5 rows per cell, and the corrected
    term is off by several standard errors), so such a pair contributes nothing: its
    collaborative term counts as 0 and it cannot trigger the redundancy guard (``terms`` returns
    None) -- unless ``interactions="crossfit"``, where it gets the cross-fitted estimates (module
    docstring).
    """

    def __init__(
        self,
        sample: RowSample,
        labels: tuple[str, ...],
        cfg: AFEConfig,
        fitter: CrossFitter | None = None,
    ) -> None:
        self.labels, self.correction = labels, cfg.correction
        self.min_rows_per_cell = cfg.pair_min_rows_per_cell
        self.fitter = fitter  # sparse pairs: cross-fitted terms (None: they count 0)
        self.skipped = 0  # pairs too sparse to estimate
        self.crossfit = 0  # of those, estimated by cross-fitting instead
        self._own: dict[str, float] = {}  # cross-fitted sum_l I(X_m;Y_l) per field
        rng = np.random.default_rng(cfg.seed)
        shuffled = [
            replace(sample, label_codes=rng.permutation(sample.label_codes))
            for _ in range(cfg.pair_shuffles)
        ]
        self.samples = [sample, *shuffled]  # share the per-field code cache
        self.h_y = {y: self._h(np.bincount(sample.label(y), minlength=2)) for y in labels}
        self._fields: dict[tuple[int, str], tuple[float, dict[str, float]]] = {}

    def _h(self, counts: np.ndarray) -> float:
        return entropy(counts, self.correction)

    def _field(self, k: int, name: str) -> tuple[float, dict[str, float]]:
        """``H(X)`` and ``H(X, Y_l)`` per label on sample ``k`` (cached)."""
        if (k, name) not in self._fields:
            sample = self.samples[k]
            codes = sample.codes(name)[1]
            h_xy = {y: self._h(np.bincount(codes * 2 + sample.label(y))) for y in self.labels}
            self._fields[k, name] = (self._h(np.bincount(codes)), h_xy)
        return self._fields[k, name]

    def _raw(self, k: int, m: str, s: str, row_cell: np.ndarray, num_cells: int) -> np.ndarray:
        """``[collaborative, conditional]`` on sample ``k`` (its labels), cells shared."""
        (h_m, h_my), (h_s, h_sy) = self._field(k, m), self._field(k, s)
        sample = self.samples[k]
        width = 2 ** len(self.labels)
        counts = cell_label_counts(row_cell, num_cells, sample.label_codes, width)
        h_ms = self._h(counts.sum(1))
        collaborative = conditional = 0.0
        for y in self.labels:
            h_msy = self._h(label_table(counts, self.labels, (y,)))
            collaborative += h_my[y] + h_sy[y] - h_msy - self.h_y[y] - (h_m + h_s - h_ms)
            conditional += h_ms + h_sy[y] - h_msy - h_s
        return np.array([collaborative, conditional])

    def terms(self, m: str, s: str) -> PairTerm | None:
        """The pair terms of candidate ``m`` given chosen ``s`` (None: too sparse to estimate)."""
        row_cell, cell_keys = pair_cells(self.samples[0], m, s)  # the same for every shuffle
        n, cells = self.samples[0].size, cell_keys.size
        if n < self.min_rows_per_cell * cells:
            self.skipped += 1
            return None if self.fitter is None else self._crossfit(m, s, row_cell)
        raw = [self._raw(k, m, s, row_cell, cells) for k in range(len(self.samples))]
        observed = raw[0] - np.mean(raw[1:], axis=0) if len(raw) > 1 else raw[0]
        # 2n I(X;Y|Z) ~ chi2(df) under independence, df ~ non-empty (x, z) cells per binary
        # label; subtracting K shuffled estimates adds their variance / K
        df = cells * len(self.labels)
        stderr = np.sqrt(2 * df) / (2 * n) * np.sqrt(1 + 1 / max(len(raw) - 1, np.inf))
        return PairTerm(float(observed[0]), float(observed[1]), float(stderr))

    def _crossfit(self, m: str, s: str, row_cell: np.ndarray) -> PairTerm:
        """A sparse pair's terms from cross-fitted information, conditional and own.

        Held-out gains are conservative: a field that adds nothing scores below 0 by the price
        of fitting it. Information is >= 0, so each estimate is its positive part (no evidence
        = 0)."""
        self.crossfit += 1
        if m not in self._own:
            self._own[m] = max(self.fitter.information(m).gain, 0.0)
        held_out = self.fitter.conditional(m, s, row_cell)
        conditional, own = max(held_out.gain, 0.0), self._own[m]
        return PairTerm(conditional - own, conditional, held_out.stderr, own)


def _random_selection(info: dict[str, FieldInfo], cfg: AFEConfig) -> Selection:
    """The first ``num_fields`` of a seeded permutation: the field-count curve's baseline."""
    names = list(info)
    order = [names[i] for i in np.random.default_rng(cfg.seed).permutation(len(names))]
    k = cfg.num_fields or len(names)
    chosen = tuple(Chosen(f, np.nan, info[f].pi, info[f].bi, np.nan) for f in order[:k])
    dropped = tuple(Dropped(f, BUDGET, {"rank": k + i + 1}) for i, f in enumerate(order[k:]))
    return Selection(chosen, dropped, info)


def _explained(pi: float, term: PairTerm, cfg: AFEConfig) -> bool:
    """Whether a chosen field explains the candidate away: what is left of its information is
    below ``redundancy_ratio`` of it, and what was explained exceeds ``redundancy_z`` standard
    errors (so a weak field is not called redundant on estimation noise)."""
    pi = pi if term.relevance is None else term.relevance
    left = max(term.conditional, 0.0)  # a negative estimate is noise around 0
    explained = pi - left
    return left < cfg.redundancy_ratio * pi and explained > cfg.redundancy_z * term.stderr


def _greedy(
    info: dict[str, FieldInfo], pairs: PairTerms, candidates: list[str], cfg: AFEConfig
) -> tuple[list[Chosen], list[Dropped]]:
    """Pick the best ``J`` until the budget, the threshold or the candidates run out."""
    stop_j = cfg.mi_threshold * sum(pairs.h_y.values())
    collab = dict.fromkeys(candidates, 0.0)  # running sum of collaborative terms over S
    chosen: list[Chosen] = []
    dropped: list[Dropped] = []

    def pi_of(f: str) -> float:
        # crossfit: information is >= 0, a Miller-Madow PI below 0 is noise around 0 (only
        # fields at the null have one, candidates there on interaction evidence only)
        return max(info[f].pi, 0.0) if cfg.interactions == "crossfit" else info[f].pi

    def j_of(f: str) -> float:
        return pi_of(f) + info[f].bi + (collab[f] / len(chosen) if chosen else 0.0)

    while candidates:
        if cfg.num_fields is not None and len(chosen) >= cfg.num_fields:
            dropped += [Dropped(f, BUDGET, {"num_fields": cfg.num_fields}) for f in candidates]
            break
        best = max(candidates, key=j_of)  # ties: the earlier field
        if j_of(best) < stop_j:
            dropped += [Dropped(f, THRESHOLD, {"J": j_of(f), "stop_J": stop_j}) for f in candidates]
            break
        i = info[best]
        chosen.append(Chosen(best, j_of(best), i.pi, i.bi, j_of(best) - pi_of(best) - i.bi))
        candidates.remove(best)
        for f in list(candidates):
            term = pairs.terms(f, best)
            if term is None:
                continue
            collab[f] += term.collaborative
            if cfg.redundancy_guard and _explained(info[f].pi, term, cfg):
                candidates.remove(f)
                detail = {"with": best, "conditional_mi": term.conditional, "mi": info[f].pi}
                dropped.append(Dropped(f, REDUNDANT, detail))
    return chosen, dropped


def _noise_detail(info: FieldInfo, interaction_z: dict[str, float] | None) -> dict[str, object]:
    """Why a field is noise: its MI and null per label, and (tested) its interaction z-scores."""
    detail: dict[str, object] = {"mi": info.mi, "null": info.null}
    if interaction_z is not None:
        detail["interaction_z"] = interaction_z
    return detail


def select_fields(
    tables: CountTables, sample: RowSample, labels: tuple[str, ...], cfg: AFEConfig
) -> Selection:
    """Greedy selection (or ``cfg.ranking="random"``); every field ends chosen or dropped."""
    info = field_info(tables, labels, cfg)
    if cfg.ranking == "random":
        return _random_selection(info, cfg)
    noise = [f for f, i in info.items() if cfg.drop_noise and i.noise]
    pi = {f: i.pi for f, i in info.items()}
    scores: dict[str, dict[str, float]] = {}
    fitter = None
    if cfg.interactions == "crossfit":
        fitter = CrossFitter(sample, cfg.interaction_shrinkage, cfg.seed)
    if noise and fitter is not None:
        interacting, scores = split_noise(noise, pi, fitter, cfg)
        noise = [f for f in noise if f not in interacting]
        log.info("AFE: at the null but interacting, kept as candidates: %s", interacting)
    dropped = [Dropped(f, NOISE, _noise_detail(info[f], scores.get(f))) for f in noise]
    candidates = [f for f in info if f not in noise]
    chosen, rest = _greedy(info, PairTerms(sample, labels, cfg, fitter), candidates, cfg)
    log.info("AFE selected %d of %d fields: %s", len(chosen), len(info), [c.field for c in chosen])
    return Selection(tuple(chosen), tuple(dropped + rest), info)
