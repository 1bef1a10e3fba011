"""What the synthetic generator plants (`SyntheticConfig`) and what it records (`GroundTruth`).

``GroundTruth`` is the content of ``ground_truth.json``: every field's role, strength, cardinality
and missing rate, the interaction pairs, the label biases, and the Bayes-optimal AUC/logloss per
split -- the ceiling any model trained on the data can reach. The generative model itself is
documented in ``reaction.data.synthetic``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

TRUTH_FILE = "ground_truth.json"
SPLITS = ("train", "val", "test")

INFORMATIVE = "informative"  # a direct effect on the label(s) in `FieldTruth.strength`
REDUNDANT = "redundant"  # noisy copy of `source`, no effect of its own
NOISE = "noise"  # no effect on any label
LONG_TAIL = "long_tail"  # Zipf over a huge vocabulary; effects on the head values only
CONVERSION_ONLY = "conversion_only"  # drives `conversion`, never `click`

# Keys of SyntheticConfig that change how the work is chunked, not what is written.
NON_SEMANTIC_KEYS = ("chunk_rows",)


@dataclass(frozen=True)
class SyntheticConfig:
    """What to plant; see ``reaction.data.synthetic`` for the generative model.

    Strengths are standard deviations of per-value logit effects (categorical) or amplitudes of
    the smooth numeric effect; informative strengths are spread geometrically from max to min.
    """

    num_rows: int = 400_000  # total rows over all splits
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    conversion: bool = False  # emit a second label `conversion` driven by fields of its own
    chunk_rows: int = 200_000  # rows generated and written per chunk (bounds memory)
    row_group_rows: int = 65_536  # parquet row group size
    # field counts per role
    num_numeric_informative: int = 7
    num_numeric_noise: int = 6
    num_informative: int = 12  # categorical fields with a click main effect
    num_interaction_pairs: int = 3  # disjoint pairs of informative fields with a joint effect
    num_redundant: int = 4  # noisy copies of strong informative fields
    num_noise: int = 6
    num_long_tail: int = 4
    num_conversion_only: int = 3  # only when conversion=True
    # strengths
    main_strength_max: float = 0.55
    main_strength_min: float = 0.05
    interaction_strength: float = 0.4
    numeric_strength_max: float = 0.35
    numeric_strength_min: float = 0.1
    long_tail_strength: float = 0.15
    long_tail_head: int = 30  # head values (most frequent) that carry an effect
    long_tail_vocab: int = 100_000
    redundant_keep_min: float = 0.8  # a copy keeps the mapped source value with this probability
    redundant_keep_max: float = 0.95
    conversion_strength: float = 0.8  # strongest conversion-only field
    conversion_shared_strength: float = 0.3  # conversion effect of one click-informative field
    click_rate: float = 0.25  # target positive rates, met by solving for the bias
    conversion_rate: float = 0.1

    def __post_init__(self) -> None:
        sizes = min(self.num_rows, self.chunk_rows, self.row_group_rows)
        held_out = (self.val_fraction, self.test_fraction)
        keeps = (self.redundant_keep_min, self.redundant_keep_max)
        rates = (self.click_rate, self.conversion_rate)
        problems = [
            (sizes < 1, f"num_rows, chunk_rows, row_group_rows must be >= 1 (min {sizes})"),
            (min(held_out) < 0 or sum(held_out) >= 1, f"bad val/test fractions {held_out}"),
            (2 * self.num_interaction_pairs > self.num_informative, "too few informative fields"),
            (self.num_redundant > self.num_informative, "more copies than informative fields"),
            (not 0 < keeps[0] <= keeps[1] <= 1, f"bad redundant keep range {keeps}"),
            (min(rates) <= 0 or max(rates) >= 1, f"target rates {rates} not in (0, 1)"),
            (self.long_tail_head > self.long_tail_vocab, "long_tail_head > long_tail_vocab"),
        ]
        failed = [message for bad, message in problems if bad]
        if failed:
            raise ValueError(f"invalid SyntheticConfig: {'; '.join(failed)}")

    @property
    def labels(self) -> tuple[str, ...]:
        return ("click", "conversion") if self.conversion else ("click",)

    def semantic_dict(self) -> dict[str, object]:
        """The config minus keys that do not change the output, to decide whether to regenerate."""
        return {k: v for k, v in asdict(self).items() if k not in NON_SEMANTIC_KEYS}


@dataclass(frozen=True)
class FieldTruth:
    """One column's planted role. ``strength``/``effect_var`` map label -> value (empty: none)."""

    name: str
    kind: str  # "categorical" | "numeric"
    role: str
    cardinality: int  # distinct non-missing values (0 for numeric)
    missing_rate: float
    strength: dict[str, float] = field(default_factory=dict)
    effect_var: dict[str, float] = field(default_factory=dict)  # variance of the logit term
    source: str | None = None  # redundant copies: the field they copy
    keep_prob: float | None = None  # redundant copies: P(mapped source value is kept)
    params: dict[str, float] = field(default_factory=dict)  # distribution / effect parameters


@dataclass(frozen=True)
class InteractionTruth:
    """A double-centred joint effect table on two categorical fields (no main-effect part)."""

    fields: tuple[str, str]
    label: str
    strength: float
    shape: tuple[int, int]
    effect_var: float


@dataclass(frozen=True)
class LabelTruth:
    """A label's logit bias, target positive rate and the fields with a direct effect on it."""

    name: str
    bias: float
    target_rate: float
    fields: tuple[str, ...]


@dataclass(frozen=True)
class GroundTruth:
    """Everything planted in a generated dataset, plus the Bayes-optimal metrics per split."""

    config: dict[str, object]
    fields: tuple[FieldTruth, ...]
    interactions: tuple[InteractionTruth, ...]
    labels: dict[str, LabelTruth]
    split_rows: dict[str, int]
    positive_rate: dict[str, dict[str, float | None]]
    bayes_auc: dict[str, dict[str, float | None]]  # None where a split has a single class
    bayes_logloss: dict[str, dict[str, float | None]]

    def field(self, name: str) -> FieldTruth:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"no field {name!r} in the ground truth")

    def names(self, role: str | None = None, kind: str | None = None) -> list[str]:
        """Field names in column order, optionally filtered by role and/or kind."""
        return [
            f.name
            for f in self.fields
            if (role is None or f.role == role) and (kind is None or f.kind == kind)
        ]

    def informative(self, label: str = "click") -> list[str]:
        """Fields with a direct effect on ``label`` (main, head or numeric effect)."""
        return [f.name for f in self.fields if f.strength.get(label, 0.0) > 0]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GroundTruth:
        return cls(
            config=dict(data["config"]),
            fields=tuple(FieldTruth(**f) for f in data["fields"]),
            interactions=tuple(
                InteractionTruth(**{**i, "fields": tuple(i["fields"]), "shape": tuple(i["shape"])})
                for i in data["interactions"]
            ),
            labels={
                k: LabelTruth(**{**v, "fields": tuple(v["fields"])})
                for k, v in data["labels"].items()
            },
            split_rows=dict(data["split_rows"]),
            positive_rate=data["positive_rate"],
            bayes_auc=data["bayes_auc"],
            bayes_logloss=data["bayes_logloss"],
        )

    def save(self, path: str | Path) -> None:
        """Write via a temporary name: the truth file is the marker of a complete generation."""
        path = Path(path)
        tmp = path.with_name(f"{path.name}.partial-{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(path)


def load_ground_truth(out_dir: str | Path) -> GroundTruth:
    """Read ``ground_truth.json`` written by ``generate`` into ``out_dir``."""
    return GroundTruth.from_dict(json.loads((Path(out_dir) / TRUTH_FILE).read_text()))


# ---------------------------------------------------------------- drawing the planted structure
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
