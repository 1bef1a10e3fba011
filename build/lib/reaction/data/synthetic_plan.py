"""The planted structure of the synthetic data: which field plays which role, with what effects.

``draw_plan`` turns a ``SyntheticConfig`` into a ``Plan`` from the seed alone, before a single row
is sampled; the rows (``reaction.data.synthetic_rows``) and the recorded ``GroundTruth`` are both
derived from it. Effects are rescaled to exact stds so the Bayes AUC moves little between seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from reaction.data.synthetic_truth import (
    CONVERSION_ONLY,
    INFORMATIVE,
    LONG_TAIL,
    NOISE,
    REDUNDANT,
    SyntheticConfig,
)

_STRUCTURE_STREAM, _CONVERSION_STREAM, _SPLIT_STREAM = 0, 1, 2
CONVERSION_INDEX = 1000  # random-stream ids of conversion-only fields start here
BLOCK_ROWS = 16_384  # rows per seeding block


@dataclass
class CatPlan:
    """A categorical field as sampled: codes ``0..K-1`` are values, code ``K`` is missing."""

    index: int  # random-stream id
    name: str
    role: str
    probs: np.ndarray  # (K,) value probabilities given not missing
    missing_rate: float
    tokens: pa.Array  # (K + 1,) 8-hex-digit tokens, then a null for missing
    effects: dict[str, np.ndarray] = field(default_factory=dict)  # label -> (K + 1,) effects
    strength: dict[str, float] = field(default_factory=dict)
    source: str | None = None
    perm: np.ndarray | None = None  # (K + 1,) source code -> own code (missing -> missing)
    keep: float | None = None
    params: dict[str, float] = field(default_factory=dict)
    cdf: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.cdf = np.cumsum(self.probs)

    @property
    def cardinality(self) -> int:
        return len(self.probs)


@dataclass
class NumPlan:
    """A numeric field: ``floor(exp(N(mu, sigma^2)))``; ``amp > 0`` adds a sine in log1p(x)."""

    index: int
    name: str
    role: str
    mu: float
    sigma: float
    missing_rate: float
    negative_rate: float = 0.0  # share of -1 values (Criteo's I2 has a few negatives)
    strength: float = 0.0  # std of the smooth term over observed values
    amp: float = 0.0
    omega: float = 0.0
    phi: float = 0.0
    missing_effect: float = 0.0


@dataclass
class PairPlan:
    a: str
    b: str
    table: np.ndarray  # (K_a, K_b), double-centred
    strength: float
    label: str = "click"


@dataclass
class Plan:
    """Everything needed to sample rows; ``bias`` is filled in after a pilot sample."""

    config: SyntheticConfig
    cats: list[CatPlan]  # sampling order: sources before their copies
    nums: list[NumPlan]
    pairs: list[PairPlan]
    split_counts: np.ndarray  # (blocks, 3) rows of each split in each block
    bias: dict[str, float] = field(default_factory=dict)
    effect_var: dict[str, dict[str, float]] = field(default_factory=dict)  # from the pilot


def draw_plan(cfg: SyntheticConfig) -> Plan:
    """Draw the planted structure from the seed; conversion draws use their own stream."""
    rng = np.random.default_rng([cfg.seed, 0, _STRUCTURE_STREAM])
    members = rng.permutation(cfg.num_informative)[: 2 * cfg.num_interaction_pairs]
    cats = _click_cats(cfg, set(members.tolist()), rng)
    pairs = [
        _pair(cats[a], cats[b], cfg.interaction_strength, rng) for a, b in members.reshape(-1, 2)
    ]
    nums = _numerics(cfg, rng)
    if cfg.conversion:
        conv_rng = np.random.default_rng([cfg.seed, 0, _CONVERSION_STREAM])
        cats += _conversion_cats(cfg, cats, set(members.tolist()), conv_rng)
    return Plan(cfg, cats, nums, pairs, _split_counts(cfg))


def _tokens(rng: np.random.Generator, k: int) -> pa.Array:
    ints = rng.choice(2**32, size=k, replace=False)
    return pa.array([f"{v:08x}" for v in ints.tolist()] + [None], type=pa.string())


def _zipf(k: int, exponent: float) -> np.ndarray:
    w = np.arange(1, k + 1, dtype=np.float64) ** -exponent
    return w / w.sum()


def _centred_effects(probs: np.ndarray, missing: float, std: float, rng) -> np.ndarray:
    """(K + 1,) effects with mean 0 and std ``std`` under the value distribution (with missing).

    Rescaling to the exact std makes a field's logit variance its strength squared, whatever
    the draw, so the Bayes AUC varies little between seeds.
    """
    eff = rng.normal(0.0, 1.0, len(probs) + 1)
    weights = np.append(probs * (1 - missing), missing)
    eff -= weights @ eff
    return eff * std / np.sqrt(weights @ eff**2)


def _cat(index: int, name: str, role: str, probs: np.ndarray, missing: float, rng) -> CatPlan:
    return CatPlan(index, name, role, probs, float(missing), _tokens(rng, len(probs)))


def _click_cats(cfg: SyntheticConfig, pair_members: set[int], rng) -> list[CatPlan]:
    n_inf = cfg.num_informative
    n_total = n_inf + cfg.num_redundant + cfg.num_noise + cfg.num_long_tail
    names = [f"C{i + 1}" for i in rng.permutation(n_total)]
    strengths = np.geomspace(cfg.main_strength_max, cfg.main_strength_min, n_inf)
    cats = []
    for i in range(n_inf):
        in_pair = i in pair_members
        k = (
            int(rng.integers(4, 13))
            if in_pair
            else int(np.exp(rng.uniform(np.log(5), np.log(200))))
        )
        missing = 0.0 if in_pair or rng.random() < 0.5 else rng.uniform(0.02, 0.3)
        cat = _cat(i, names[i], INFORMATIVE, _zipf(k, rng.uniform(0.3, 1.2)), missing, rng)
        cat.effects["click"] = _centred_effects(cat.probs, cat.missing_rate, strengths[i], rng)
        cat.strength["click"] = float(strengths[i])
        cats.append(cat)
    # copies of strong fields: the sources are drawn from the 2 * num_redundant strongest
    sources = rng.choice(min(n_inf, 2 * cfg.num_redundant), cfg.num_redundant, replace=False)
    for j, s in enumerate(sources.tolist()):
        i = n_inf + j
        src = cats[s]
        keep = float(rng.uniform(cfg.redundant_keep_min, cfg.redundant_keep_max))
        # a copy is missing only where the source is and the value was kept
        cat = _cat(i, names[i], REDUNDANT, src.probs, keep * src.missing_rate, rng)
        cat.source, cat.keep = src.name, keep
        cat.perm = np.append(rng.permutation(src.cardinality), src.cardinality)
        cats.append(cat)
    offset = n_inf + cfg.num_redundant
    cards = np.geomspace(3, 30_000, cfg.num_noise).round().astype(int)
    for j, k in enumerate(cards.tolist()):
        probs = _zipf(k, rng.uniform(0.8, 1.2)) if k > 100 else np.full(k, 1.0 / k)
        missing = rng.uniform(0.05, 0.4) if j % 2 else 0.0
        cats.append(_cat(offset + j, names[offset + j], NOISE, probs, missing, rng))
    offset += cfg.num_noise
    for j in range(cfg.num_long_tail):
        missing = rng.uniform(0.05, 0.2) if j % 2 else 0.0
        cats.append(_long_tail(cfg, offset + j, names[offset + j], missing, rng))
    return cats


def _long_tail(cfg: SyntheticConfig, index: int, name: str, missing: float, rng) -> CatPlan:
    exponent = rng.uniform(1.0, 1.2)
    cat = _cat(index, name, LONG_TAIL, _zipf(cfg.long_tail_vocab, exponent), missing, rng)
    eff = np.zeros(cfg.long_tail_vocab + 1)
    eff[: cfg.long_tail_head] = rng.normal(0.0, cfg.long_tail_strength, cfg.long_tail_head)
    cat.effects["click"] = eff
    cat.strength["click"] = cfg.long_tail_strength
    cat.params = {"zipf_exponent": float(exponent), "head": cfg.long_tail_head}
    return cat


def _pair(a: CatPlan, b: CatPlan, strength: float, rng) -> PairPlan:
    """A joint table with zero row and column means under the (independent) marginals."""
    t = rng.normal(0.0, 1.0, (a.cardinality, b.cardinality))
    t -= (t @ b.probs)[:, None]
    t -= (a.probs @ t)[None, :]
    t *= strength / np.sqrt(a.probs @ t**2 @ b.probs)  # std under the marginals = strength
    return PairPlan(a.name, b.name, t, float(strength))


def _numerics(cfg: SyntheticConfig, rng) -> list[NumPlan]:
    n_inf, n = cfg.num_numeric_informative, cfg.num_numeric_informative + cfg.num_numeric_noise
    names = [f"I{i + 1}" for i in rng.permutation(n)]
    amps = np.geomspace(cfg.numeric_strength_max, cfg.numeric_strength_min, n_inf)
    nums = []
    for i in range(n):
        mu, sigma = rng.uniform(0.0, 3.0), rng.uniform(1.0, 2.0)
        if i < n_inf:
            num = NumPlan(i, names[i], INFORMATIVE, mu, sigma, rng.uniform(0.1, 0.4))
            num.omega, num.phi = rng.uniform(0.5, 1.2), rng.uniform(0, 2 * np.pi)
            # scale the sine so the term's std over observed values equals the strength
            u = np.log1p(np.floor(np.exp(rng.normal(mu, sigma, 20_000))))
            num.strength = float(amps[i])
            num.amp = float(amps[i] / max(np.sin(num.omega * u + num.phi).std(), 0.1))
            num.missing_effect = rng.normal(0.0, amps[i])
        else:
            num = NumPlan(i, names[i], NOISE, mu, sigma, rng.uniform(0.0, 0.5))
            num.negative_rate = 0.02 if i == n_inf else 0.0
        nums.append(num)
    return nums


def _conversion_cats(cfg, cats: list[CatPlan], pair_members: set[int], rng) -> list[CatPlan]:
    """Conversion-only fields, plus a conversion effect on one click-informative field."""
    first = len(cats) + 1
    strengths = np.geomspace(
        cfg.conversion_strength, cfg.conversion_strength / 3, cfg.num_conversion_only
    )
    out = []
    for j in range(cfg.num_conversion_only):
        k = int(np.exp(rng.uniform(np.log(5), np.log(50))))
        cat = _cat(
            CONVERSION_INDEX + j,
            f"C{first + j}",
            CONVERSION_ONLY,
            _zipf(k, rng.uniform(0.3, 1.0)),
            0.0,
            rng,
        )
        cat.effects["conversion"] = _centred_effects(cat.probs, 0.0, strengths[j], rng)
        cat.strength["conversion"] = float(strengths[j])
        out.append(cat)
    if cfg.conversion_shared_strength > 0:
        free = [i for i in range(cfg.num_informative) if i not in pair_members]
        shared = cats[free[len(free) // 2]] if free else cats[0]
        shared.effects["conversion"] = _centred_effects(
            shared.probs, shared.missing_rate, cfg.conversion_shared_strength, rng
        )
        shared.strength["conversion"] = cfg.conversion_shared_strength
    return out


def _split_counts(cfg: SyntheticConfig) -> np.ndarray:
    """Exact split sizes, spread over blocks like a uniform random assignment would."""
    n_val = round(cfg.num_rows * cfg.val_fraction)
    n_test = round(cfg.num_rows * cfg.test_fraction)
    left = np.array([cfg.num_rows - n_val - n_test, n_val, n_test], dtype=np.int64)
    rng = np.random.default_rng([cfg.seed, 0, _SPLIT_STREAM])
    blocks = -(-cfg.num_rows // BLOCK_ROWS)
    counts = np.zeros((blocks, 3), dtype=np.int64)
    for b in range(blocks):
        n = min(BLOCK_ROWS, cfg.num_rows - b * BLOCK_ROWS)
        counts[b] = rng.multivariate_hypergeometric(left, n)
        left -= counts[b]
    return counts
