"""Implicit-feedback recommender data with sampled negatives (``SyntheticConfig.negative_ratio``).

Why: public recommender tables (Frappe-style app usage, MovieLens "latest") have no logged
negatives; each positive ``(user, context, item)`` event gets ``r`` negatives that keep its user
and context and draw a random item. Every user and context value then has the same click rate
``1 / (1 + r)``: its marginal information ``I(X;Y)`` is zero *by construction*, and everything it
says about the label is in its interaction with the item. A selector that calls a field noise
from its marginal MI alone drops all of them; this mode is the test bed for one that does not.

Generative model, per positive event (a *group* of ``1 + r`` rows)::

    user ~ Zipf(num_users, 0.8),  context_j ~ Zipf(K_j, 0.5)          independent
    item | user, ctx ~ softmax_i( log pop_i + A[user, i] + sum_j B_j[ctx_j, i] )
    negatives: r items ~ Uniform(num_items), same user and contexts, click = 0

``pop`` is a Zipf popularity (the item's own, marginal, signal: positives are popular, uniform
negatives are not), ``A = user_strength * U V^T / sqrt(d)`` a rank-``d`` user x item affinity
(``d = 4``) and ``B_j`` a normal context x item table of std ``context_strength`` down to half of
it. The true click probability of a row is ``P(i | u, ctx) / (P(i | u, ctx) + r / num_items)``
(Bayes' rule over "positive event" vs "sampled negative"), from which the Bayes AUC is computed.
Per row, independent of everything: ``num_noise`` noise fields (3 to 5,000 values) and up to two
copies (role ``redundant``): ``item_copy`` then ``user_copy``, the source's value through a fixed
bijection kept with probability ``keep``, else uniform. Rows of a group are shuffled within their
16,384-row block and assigned to splits like the CTR generator's.
"""

from __future__ import annotations

import numpy as np

from reaction.data.synthetic_plan import (
    CatPlan,
    PairPlan,
    Plan,
    _cat,
    _split_counts,
    _zipf,
)
from reaction.data.synthetic_truth import (
    INFORMATIVE,
    INTERACTION_ONLY,
    NOISE,
    REDUNDANT,
    SPLITS,
    SyntheticConfig,
)

_STRUCTURE_STREAM = 3  # the CTR plan uses streams 0-2 of (seed, 0, stream)
_GROUP_STREAM, _NOISE_STREAM, _SPLIT_STREAM = 0, 1, 2
LATENT_DIM = 4
USER, ITEM = "user", "item"

__all__ = ["draw_recsys_plan", "sample_recsys_block"]


def _rng(cfg: SyntheticConfig, *stream: int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, 4, *stream])


def _affinity_pairs(cfg: SyntheticConfig, user: CatPlan, item: CatPlan, contexts, rng):
    """The user x item (low rank) and context x item tables, scaled to their strengths."""
    u = rng.normal(size=(cfg.num_users, LATENT_DIM))
    v = rng.normal(size=(cfg.num_items, LATENT_DIM))
    pairs = [PairPlan(USER, ITEM, cfg.user_strength * u @ v.T / np.sqrt(LATENT_DIM), 0.0)]
    strengths = np.geomspace(cfg.context_strength, cfg.context_strength / 2, len(contexts))
    for ctx, strength in zip(contexts, strengths.tolist(), strict=True):
        table = strength * rng.normal(size=(ctx.cardinality, cfg.num_items))
        pairs.append(PairPlan(ctx.name, ITEM, table, 0.0))
    for pair, field in zip(pairs, (user, *contexts), strict=True):
        pair.strength = float(pair.table.std())
        field.strength["click"] = pair.strength
    item.strength["click"] = float(np.log(item.probs).std())  # popularity, under uniform items
    return pairs


def _copies(cfg: SyntheticConfig, sources: list[CatPlan], first: int, rng) -> list[CatPlan]:
    out = []
    for j, src in enumerate(sources[: cfg.num_redundant]):
        keep = float(rng.uniform(cfg.redundant_keep_min, cfg.redundant_keep_max))
        cat = _cat(first + j, f"{src.name}_copy", REDUNDANT, src.probs, 0.0, rng)
        cat.source, cat.keep = src.name, keep
        cat.perm = np.append(rng.permutation(src.cardinality), src.cardinality)
        out.append(cat)
    return out


def draw_recsys_plan(cfg: SyntheticConfig) -> Plan:
    """Fields, popularity and affinity tables from the seed (no bias to solve: the negative
    ratio fixes the positive rate)."""
    rng = np.random.default_rng([cfg.seed, 0, _STRUCTURE_STREAM])
    user = _cat(0, USER, INTERACTION_ONLY, _zipf(cfg.num_users, 0.8), 0.0, rng)
    item = _cat(1, ITEM, INFORMATIVE, _zipf(cfg.num_items, 1.0), 0.0, rng)
    cards = np.geomspace(4, 24, cfg.num_contexts).round().astype(int).tolist()
    contexts = [
        _cat(2 + j, f"context{j + 1}", INTERACTION_ONLY, _zipf(k, 0.5), 0.0, rng)
        for j, k in enumerate(cards)
    ]
    pairs = _affinity_pairs(cfg, user, item, contexts, rng)
    first = 2 + cfg.num_contexts
    noise_cards = np.geomspace(3, 5000, cfg.num_noise).round().astype(int).tolist()
    noise = [  # uniform up to 100 values, Zipf-like above (as the CTR generator's noise)
        _cat(first + j, f"noise{j + 1}", NOISE, _zipf(k, 0.9 if k > 100 else 0.0), 0.0, rng)
        for j, k in enumerate(noise_cards)
    ]
    copies = _copies(cfg, [item, user], first + cfg.num_noise, rng)
    plan = Plan(cfg, [user, item, *contexts, *noise, *copies], [], pairs, _split_counts(cfg))
    plan.bias["click"] = 0.0
    plan.effect_var = {f"{p.a}*{p.b}": {"click": p.strength**2} for p in pairs}
    return plan


def _draw(cat: CatPlan, rng: np.random.Generator, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cat.cdf, rng.random(n), side="right"), cat.cardinality - 1)


def _groups(plan: Plan, rng: np.random.Generator, g: int) -> dict[str, np.ndarray]:
    """``g`` positive events and their negatives: ``(g, 1 + r)`` codes, click and ``p_click``."""
    cfg, r = plan.config, plan.config.negative_ratio
    by_name = {c.name: c for c in plan.cats}
    context = {p.a: _draw(by_name[p.a], rng, g) for p in plan.pairs}  # user and contexts
    logits = np.log(by_name[ITEM].probs) + sum(p.table[context[p.a]] for p in plan.pairs)
    log_z = np.logaddexp.reduce(logits, axis=1, keepdims=True)
    positive = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    items = np.column_stack([positive, rng.integers(0, cfg.num_items, (g, r))])
    p_item = np.exp(np.take_along_axis(logits, items, 1) - log_z)
    rows = {name: np.repeat(codes[:, None], 1 + r, 1) for name, codes in context.items()}
    rows[ITEM] = items
    rows["click"] = np.tile(np.eye(1, 1 + r, dtype=np.int8), (g, 1))
    rows["p_click"] = p_item / (p_item + r / cfg.num_items)
    return rows


def _per_row(plan: Plan, rows: dict[str, np.ndarray], rng: np.random.Generator, n: int) -> None:
    """Noise fields and copies, drawn per row (in plan order: sources before copies)."""
    for cat in plan.cats:
        if cat.role == NOISE:
            rows[cat.name] = _draw(cat, rng, n)
        elif cat.role == REDUNDANT:
            codes = cat.perm[rows[cat.source]]
            redraw = rng.random(n) >= cat.keep
            codes[redraw] = rng.integers(0, cat.cardinality, int(redraw.sum()))
            rows[cat.name] = codes


def sample_recsys_block(plan: Plan, block: int) -> dict[str, np.ndarray]:
    """One block's rows, keyed like ``reaction.data.synthetic_rows.iter_chunks``'s chunks."""
    counts = plan.split_counts[block]
    n = int(counts.sum())
    cfg = plan.config
    rng = _rng(cfg, block, _GROUP_STREAM)
    groups = _groups(plan, rng, -(-n // (1 + cfg.negative_ratio)))
    order = rng.permutation(n)  # the first n rows of the groups, shuffled
    rows = {k: v.ravel()[:n][order] for k, v in groups.items()}
    _per_row(plan, rows, _rng(cfg, block, _NOISE_STREAM), n)
    for cat in plan.cats:
        rows[cat.name] = rows[cat.name].astype(np.int32)
    split = np.repeat(np.arange(len(SPLITS), dtype=np.int8), counts)
    rows["split"] = _rng(cfg, block, _SPLIT_STREAM).permutation(split)
    return rows
