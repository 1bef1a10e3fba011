"""Seeded synthetic Criteo-like CTR data with a planted, documented ground truth.

Why: every claim about feature selection (AFE), fusion or a model's capacity can be checked here
against a known answer and a known ceiling (the Bayes-optimal AUC), in seconds, on a CPU.

Generative model (every row i.i.d.; ``sigmoid`` is the logistic function)::

    z_click = b_click + sum_f e_f[x_f] + sum_(a,b) T_ab[x_a, x_b] + sum_j g_j(I_j) + sum_l h_l[x_l]
    click ~ Bernoulli(sigmoid(z_click))

- informative categorical fields (``C*``, role ``informative``): 5-200 values with Zipf-like
  frequencies; per-value effects ``e_f`` drawn from a normal, then centred and scaled so their std
  under the value frequencies is the field's strength ``s_f`` (spread geometrically from strong
  to weak); some have missing values, and missing is a value with its own effect.
- interaction pairs ``(a, b)``: disjoint pairs of low-cardinality (4-12 values) informative fields;
  a normal table ``T_ab`` double-centred (zero row and column means under the value marginals),
  so no main-effects model can represent it, scaled to std ``interaction_strength``.
- numeric fields (``I*``): heavy-tailed counts ``floor(exp(N(mu, sigma^2)))``, null = missing.
  Informative ones add ``g_j = a_j sin(w_j log1p(max(x, 0)) + phi_j)`` (smooth in log space, so
  log/quantile bucketing captures it; ``a_j`` set so the term's std is the field's strength) and
  a missing-value effect; the rest are noise (one has a few -1 values, like Criteo's I2).
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

Defaults: 13 numeric fields (7 informative, 6 noise) and 26 categorical ones (12 informative of
which 6 form 3 interaction pairs, 4 redundant, 6 noise, 4 long-tail); 400k rows, 80/10/10 splits.
Effects are scaled to exact stds, so the logit variance, hence the Bayes AUC (about 0.80 at the
defaults), moves little between seeds. Roles are shuffled over the column names with the seed.
The Bayes-optimal AUC and logloss of the true ``p(label | row)`` on each split are accumulated
while writing (see ``ProbabilityHistogram``) and stored in ``ground_truth.json`` with every
field's role, strength, cardinality and missing rate; ``ensure_generated`` reuses a complete
generation with the same config.

``negative_ratio > 0`` switches to an implicit-feedback recommender table with sampled negatives
instead (user, item, contexts; ``reaction.data.synthetic_recsys`` documents it); off by default,
and its keys are then left out of the recorded config, so existing data keeps its fingerprint.

Randomness is drawn per 16,384-row block and per field from ``(seed, block, stream)``, so the data
does not depend on ``chunk_rows``, and enabling ``conversion`` leaves the click columns unchanged.
Split sizes are exact (``round(num_rows * fraction)``); rows are assigned uniformly at random.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from reaction.data.synthetic_plan import Plan
from reaction.data.synthetic_rows import build_plan, iter_chunks
from reaction.data.synthetic_truth import (
    SPLITS,
    TRUTH_FILE,
    FieldTruth,
    GroundTruth,
    InteractionTruth,
    LabelTruth,
    ProbabilityHistogram,
    SyntheticConfig,
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


def _column_order(plan: Plan, names: list[str]) -> list[str]:
    """CTR data: ``I1..I13`` then ``C1..C26`` like Criteo; recommender data: the plan's order."""
    if plan.config.recommender:
        return names
    return sorted(names, key=lambda name: (name[0] != "I", int(name[1:])))


def _schema(plan: Plan) -> pa.Schema:
    labels = [pa.field(label, pa.int8(), nullable=False) for label in plan.config.labels]
    kinds = {c.name: pa.string() for c in plan.cats} | {n.name: pa.float64() for n in plan.nums}
    return pa.schema(labels + [pa.field(n, kinds[n]) for n in _column_order(plan, list(kinds))])


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
    order = {name: i for i, name in enumerate(_column_order(plan, [f.name for f in out]))}
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
            plan.config.target_rate(label),
            tuple(f.name for f in fields if label in f.strength),
        )
        for label in plan.config.labels
    }
    per_split = lambda fn: {k: {s: fn(h) for s, h in hs.items()} for k, hs in hists.items()}  # noqa: E731
    return GroundTruth(
        config=plan.config.recorded_dict(),
        fields=tuple(fields),
        interactions=pairs,
        labels=labels,
        split_rows={s: int(c) for s, c in zip(SPLITS, plan.split_counts.sum(axis=0), strict=True)},
        positive_rate=per_split(ProbabilityHistogram.positive_rate),
        bayes_auc=per_split(ProbabilityHistogram.auc),
        bayes_logloss=per_split(ProbabilityHistogram.logloss),
    )
