"""Rows sampled from a planted ``Plan``: features, true probabilities, labels and split ids.

Randomness is drawn per ``BLOCK_ROWS`` block and per field from ``(seed, block, stream)``, so the
rows do not depend on how they are chunked, and the conversion streams never touch click's.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from reaction.data.synthetic_plan import Plan, draw_plan
from reaction.data.synthetic_recsys import draw_recsys_plan, sample_recsys_block
from reaction.data.synthetic_truth import SPLITS, SyntheticConfig

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
    """The planted structure with biases solved for the target rates."""
    if config.recommender:
        return draw_recsys_plan(config)
    plan = draw_plan(config)
    _calibrate(plan)
    return plan


def _sample_block(plan: Plan, block: int) -> dict[str, np.ndarray]:
    if plan.config.recommender:
        return sample_recsys_block(plan, block)
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
