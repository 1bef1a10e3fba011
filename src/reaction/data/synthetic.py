"""Seeded synthetic Criteo-like CTR data with a planted, documented ground truth.

Why: every claim about feature selection (AFE), fusion or a model's capacity can be checked here
against a known answer and a known ceiling (the Bayes-optimal AUC), in seconds, on a CPU.

Generative model (every row i.i.d.; ``sigmoid`` is the logistic function)::

    z_click = b_click + sum_f e_f[x_f] + sum_(a,b) T_ab[x_a, x_b] + sum_j g_j(I_j) + sum_l h_l[x_l]
    click ~ Bernoulli(sigmoid(z_click))

- informative categorical fields (``C*``, role ``informative``): 5-200 values with Zipf-like
  frequencies; per-value effects ``e_f ~ N(0, s_f^2)``, centred, with ``s_f`` spread geometrically
  from strong to weak; some have missing values, and missing is a value with its own effect.
- interaction pairs ``(a, b)``: disjoint pairs of low-cardinality (4-12 values) informative fields;
  ``T_ab ~ N(0, s^2)`` double-centred (zero row and column means under the value marginals), so
  no main-effects model can represent it.
- numeric fields (``I*``): heavy-tailed counts ``floor(exp(N(mu, sigma^2)))``, null = missing.
  Informative ones add ``g_j = a_j sin(w_j log1p(max(x, 0)) + phi_j)`` (smooth in log space, so
  log/quantile bucketing captures it) and a missing-value effect; the rest are noise.
- redundant fields: a copy of a strong informative field, its value mapped through a fixed random
  bijection to new tokens, kept with probability ``keep`` (0.8-0.95) else a uniform random value;
  no effect of its own (conditionally independent of the labels given the source).
- noise categorical fields: uniform or Zipf values, 3 to 30,000 of them, no effect.
- long-tail fields: Zipf over ``long_tail_vocab`` (1e5) values like user/ad ids; only the
  ``long_tail_head`` most frequent values carry a (small) effect ``h_l``, the tail carries none.
- with ``conversion=True``: ``conversion ~ Bernoulli(sigmoid(z_conv))``, independent of click given
  the row, with ``z_conv`` from ``num_conversion_only`` extra fields (role ``conversion_only``,
  appended after the click fields, no click effect) plus one click-informative field.
- biases are solved on a pilot sample to give the target positive rates.

Roles are shuffled over the column names with the seed. The Bayes-optimal AUC and logloss of the
true ``p(label | row)`` on each split are accumulated while writing (see ``ProbabilityHistogram``)
and stored in ``ground_truth.json`` with every field's role, strength and missing rate.

Randomness is drawn per 16,384-row block and per field from ``(seed, block, stream)``, so the data
does not depend on ``chunk_rows``, and enabling ``conversion`` leaves the click columns unchanged.
Split sizes are exact (``round(num_rows * fraction)``); rows are assigned uniformly at random.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from reaction.data.synthetic_truth import (
    SPLITS,
    TRUTH_FILE,
    FieldTruth,
    GroundTruth,
    InteractionTruth,
    LabelTruth,
    Plan,
    SyntheticConfig,
    draw_plan,
    load_ground_truth,
)

__all__ = [
    "GroundTruth",
    "SyntheticConfig",
    "ensure_generated",
    "generate",
    "iter_chunks",
    "load_ground_truth",
]

log = logging.getLogger(__name__)

_PILOT_BLOCK, _PILOT_ROWS = 2**31, 65_536
_LABEL_STREAMS = {"click": 2000, "conversion": 2001}
_SPLIT_STREAM = 3000


def _rng(plan: Plan, block: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([plan.config.seed, 1, block, stream])


def _sample_features(plan: Plan, block: int, n: int) -> dict[str, np.ndarray]:
    """Categorical codes (int32, code K = missing) and numeric values (float64, NaN = missing)."""
    rows: dict[str, np.ndarray] = {}
    for cat in plan.cats:
        rng = _rng(plan, block, cat.index)
        if cat.source is None:
            codes = np.searchsorted(cat.cdf, rng.random(n), side="right")
            np.minimum(codes, cat.cardinality - 1, out=codes)
            if cat.missing_rate > 0:
                codes[rng.random(n) < cat.missing_rate] = cat.cardinality
        else:
            codes = cat.perm[rows[cat.source]]
            redraw = rng.random(n) >= cat.keep
            codes[redraw] = rng.integers(0, cat.cardinality, int(redraw.sum()))
        rows[cat.name] = codes.astype(np.int32)
    for num in plan.nums:
        rng = _rng(plan, block, 500 + num.index)
        x = np.floor(np.exp(rng.normal(num.mu, num.sigma, n)))
        if num.negative_rate > 0:
            x[rng.random(n) < num.negative_rate] = -1.0
        x[rng.random(n) < num.missing_rate] = np.nan
        rows[num.name] = x
    return rows


def _terms(plan: Plan, rows: dict[str, np.ndarray]) -> Iterator[tuple[str, str, np.ndarray]]:
    """Every additive logit term as ``(name, label, values)``; pairs are named ``a*b``."""
    for cat in plan.cats:
        for label, eff in cat.effects.items():
            yield cat.name, label, eff[rows[cat.name]]
    for pair in plan.pairs:
        yield f"{pair.a}*{pair.b}", pair.label, pair.table[rows[pair.a], rows[pair.b]]
    for num in plan.nums:
        if num.amp > 0:
            x = rows[num.name]
            smooth = num.amp * np.sin(num.omega * np.log1p(np.maximum(x, 0.0)) + num.phi)
            yield num.name, "click", np.where(np.isnan(x), num.missing_effect, smooth)


def _logits(plan: Plan, rows: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    z = {label: np.full(n, plan.bias.get(label, 0.0)) for label in plan.config.labels}
    for _, label, values in _terms(plan, rows):
        z[label] += values
    return z


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _calibrate(plan: Plan) -> None:
    """Solve each label's bias for its target rate and record each term's variance (pilot)."""
    rows = _sample_features(plan, _PILOT_BLOCK, _PILOT_ROWS)
    for name, label, values in _terms(plan, rows):
        plan.effect_var.setdefault(name, {})[label] = float(values.var())
    targets = {"click": plan.config.click_rate, "conversion": plan.config.conversion_rate}
    for label, z in _logits(plan, rows, _PILOT_ROWS).items():
        lo, hi = -30.0, 30.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _sigmoid(z + mid).mean() < targets[label] else (lo, mid)
        plan.bias[label] = (lo + hi) / 2


def build_plan(config: SyntheticConfig) -> Plan:
    plan = draw_plan(config)
    _calibrate(plan)
    return plan


def _sample_block(plan: Plan, block: int) -> dict[str, np.ndarray]:
    counts = plan.split_counts[block]
    n = int(counts.sum())
    rows = _sample_features(plan, block, n)
    for label, z in _logits(plan, rows, n).items():
        p = _sigmoid(z)
        rows[f"p_{label}"] = p
        rows[label] = (_rng(plan, block, _LABEL_STREAMS[label]).random(n) < p).astype(np.int8)
    split = np.repeat(np.arange(len(SPLITS), dtype=np.int8), counts)
    rows["split"] = _rng(plan, block, _SPLIT_STREAM).permutation(split)
    return rows


def iter_chunks(
    config: SyntheticConfig, plan: Plan | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """Rows in chunks of ``config.chunk_rows`` (the last may be shorter), with their truth.

    Keys: each field (categorical codes, code K = missing; numeric float64, NaN = missing), each
    label (int8), ``p_<label>`` (the true probability) and ``split`` (index into ``SPLITS``).
    """
    plan = plan or build_plan(config)
    size = config.chunk_rows
    buffer: list[dict[str, np.ndarray]] = []
    buffered = 0
    for block in range(len(plan.split_counts)):
        buffer.append(_sample_block(plan, block))
        buffered += len(buffer[-1]["split"])
        while buffered >= size:
            rows = _concat(buffer)
            yield {k: v[:size] for k, v in rows.items()}
            buffer, buffered = [{k: v[size:] for k, v in rows.items()}], buffered - size
    if buffered:
        yield _concat(buffer)


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class ProbabilityHistogram:
    """Streaming AUC and logloss of probabilities against labels, in bounded memory.

    AUC comes from per-label histograms of p on ``bins`` equal-width bins, counting pairs inside a
    bin as ties (half credit); with 2**17 bins the error is far below 1e-4 for realistic p.
    """

    def __init__(self, bins: int = 2**17) -> None:
        self.bins = bins
        self.pos = np.zeros(bins, dtype=np.int64)
        self.neg = np.zeros(bins, dtype=np.int64)
        self.loss_sum = 0.0

    def update(self, prob: np.ndarray, label: np.ndarray) -> None:
        idx = np.minimum((prob * self.bins).astype(np.int64), self.bins - 1)
        positive = label.astype(bool)
        self.pos += np.bincount(idx[positive], minlength=self.bins)
        self.neg += np.bincount(idx[~positive], minlength=self.bins)
        p = np.clip(prob, 1e-15, 1 - 1e-15)
        self.loss_sum -= float(np.sum(np.where(positive, np.log(p), np.log1p(-p))))

    @property
    def count(self) -> int:
        return int(self.pos.sum() + self.neg.sum())

    def positive_rate(self) -> float | None:
        return float(self.pos.sum() / self.count) if self.count else None

    def logloss(self) -> float | None:
        return self.loss_sum / self.count if self.count else None

    def auc(self) -> float | None:
        """P(p_pos > p_neg) + 0.5 P(tie); None when one class is absent."""
        n_pos, n_neg = int(self.pos.sum()), int(self.neg.sum())
        if n_pos == 0 or n_neg == 0:
            return None
        neg_below = np.cumsum(self.neg) - self.neg
        wins = np.sum(self.pos * (neg_below + 0.5 * self.neg), dtype=np.float64)
        auc = float(wins / (n_pos * n_neg))
        return auc if math.isfinite(auc) else None


def _column_order(names: list[str]) -> list[str]:
    return sorted(names, key=lambda name: (name[0] != "I", int(name[1:])))


def _schema(plan: Plan) -> pa.Schema:
    labels = [pa.field(label, pa.int8(), nullable=False) for label in plan.config.labels]
    kinds = {c.name: pa.string() for c in plan.cats} | {n.name: pa.float64() for n in plan.nums}
    return pa.schema(labels + [pa.field(n, kinds[n]) for n in _column_order(list(kinds))])


def _to_table(
    plan: Plan, schema: pa.Schema, rows: dict[str, np.ndarray], idx: np.ndarray
) -> pa.Table:
    tokens = {c.name: c.tokens for c in plan.cats}
    columns = []
    for f in schema:
        values = rows[f.name][idx]
        if f.name in tokens:
            columns.append(pc.take(tokens[f.name], pa.array(values)))
        elif f.type == pa.float64():
            columns.append(pa.array(values, mask=np.isnan(values)))
        else:
            columns.append(pa.array(values))
    return pa.Table.from_arrays(columns, schema=schema)


class _SplitWriter:
    """Buffers tables so that every row group but the last has exactly ``row_group_rows`` rows."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int) -> None:
        self._writer = pq.ParquetWriter(path, schema)
        self._size = row_group_rows
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def write(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        full = self._pending_rows // self._size * self._size
        if full:
            merged = pa.concat_tables(self._pending)
            self._writer.write_table(merged.slice(0, full), row_group_size=self._size)
            self._pending, self._pending_rows = [merged.slice(full)], self._pending_rows - full

    def close(self) -> None:
        if self._pending_rows:
            self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._size)
        self._writer.close()


def _write_splits(plan: Plan, paths: dict[str, Path]) -> dict[str, dict[str, ProbabilityHistogram]]:
    """Stream every chunk into its split files; accumulate the true probabilities per split."""
    schema = _schema(plan)
    hists = {label: {s: ProbabilityHistogram() for s in SPLITS} for label in plan.config.labels}
    writers = {s: _SplitWriter(paths[s], schema, plan.config.row_group_rows) for s in SPLITS}
    try:
        for rows in iter_chunks(plan.config, plan):
            for i, split in enumerate(SPLITS):
                idx = np.flatnonzero(rows["split"] == i)
                writers[split].write(_to_table(plan, schema, rows, idx))
                for label, by_split in hists.items():
                    by_split[split].update(rows[f"p_{label}"][idx], rows[label][idx])
    finally:
        for writer in writers.values():
            writer.close()
    return hists


def generate(config: SyntheticConfig, out_dir: str | Path) -> GroundTruth:
    """Write ``{train,val,test}.parquet`` and ``ground_truth.json`` into ``out_dir``.

    Files are written under temporary names and renamed at the end; ``ground_truth.json`` is
    removed first and written last, so its presence marks a complete generation.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / TRUTH_FILE).unlink(missing_ok=True)
    start = time.perf_counter()
    plan = build_plan(config)
    partial = {s: out / f"{s}.parquet.partial" for s in SPLITS}
    try:
        hists = _write_splits(plan, partial)
    except BaseException:
        for path in partial.values():
            path.unlink(missing_ok=True)
        raise
    for split, path in partial.items():
        path.replace(out / f"{split}.parquet")
    truth = _ground_truth(plan, hists)
    truth.save(out / TRUTH_FILE)
    log.info(
        "synthetic data: %d rows in %.1fs to %s, bayes test auc %s",
        config.num_rows,
        time.perf_counter() - start,
        out,
        truth.bayes_auc["click"]["test"],
    )
    return truth


def ensure_generated(config: SyntheticConfig, out_dir: str | Path) -> GroundTruth:
    """Reuse a complete generation in ``out_dir`` made with the same config, else generate.

    Only keys that change the output are compared (``chunk_rows`` does not).
    """
    out = Path(out_dir)
    complete = (out / TRUTH_FILE).exists() and all((out / f"{s}.parquet").exists() for s in SPLITS)
    if complete:
        truth = load_ground_truth(out)
        stored = {k: v for k, v in truth.config.items() if k in config.semantic_dict()}
        if stored == config.semantic_dict():
            log.info("synthetic data: reusing %s", out)
            return truth
    return generate(config, out)


def _field_truths(plan: Plan) -> list[FieldTruth]:
    out = []
    for c in plan.cats:
        params = {**c.params, "zipf_max_prob": float(c.probs.max())}
        out.append(
            FieldTruth(
                c.name,
                "categorical",
                c.role,
                c.cardinality,
                c.missing_rate,
                dict(c.strength),
                plan.effect_var.get(c.name, {}),
                c.source,
                c.keep,
                params,
            )
        )
    for n in plan.nums:
        params = {"mu": n.mu, "sigma": n.sigma, "negative_rate": n.negative_rate}
        if n.amp > 0:
            params |= {
                "amp": n.amp,
                "omega": n.omega,
                "phi": n.phi,
                "missing_effect": n.missing_effect,
            }
        strength = {"click": n.strength} if n.amp > 0 else {}
        out.append(
            FieldTruth(
                n.name,
                "numeric",
                n.role,
                0,
                n.missing_rate,
                strength,
                plan.effect_var.get(n.name, {}),
                params={k: float(v) for k, v in params.items()},
            )
        )
    order = {name: i for i, name in enumerate(_column_order([f.name for f in out]))}
    return sorted(out, key=lambda f: order[f.name])


def _ground_truth(plan: Plan, hists: dict[str, dict[str, ProbabilityHistogram]]) -> GroundTruth:
    fields = _field_truths(plan)
    pairs = tuple(
        InteractionTruth(
            (p.a, p.b),
            p.label,
            p.strength,
            p.table.shape,
            plan.effect_var[f"{p.a}*{p.b}"][p.label],
        )
        for p in plan.pairs
    )
    labels = {
        label: LabelTruth(
            label,
            plan.bias[label],
            plan.config.click_rate if label == "click" else plan.config.conversion_rate,
            tuple(f.name for f in fields if label in f.strength),
        )
        for label in plan.config.labels
    }
    per_split = lambda fn: {k: {s: fn(h) for s, h in hs.items()} for k, hs in hists.items()}  # noqa: E731
    return GroundTruth(
        config=asdict(plan.config),
        fields=tuple(fields),
        interactions=pairs,
        labels=labels,
        split_rows={s: int(c) for s, c in zip(SPLITS, plan.split_counts.sum(axis=0), strict=True)},
        positive_rate=per_split(ProbabilityHistogram.positive_rate),
        bayes_auc=per_split(ProbabilityHistogram.auc),
        bayes_logloss=per_split(ProbabilityHistogram.logloss),
    )
