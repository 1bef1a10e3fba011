"""What the synthetic generator plants (`SyntheticConfig`) and what it records (`GroundTruth`).

``GroundTruth`` is the content of ``ground_truth.json``: every field's role, strength, cardinality
and missing rate, the interaction pairs, the label biases, and the Bayes-optimal AUC/logloss per
split -- the ceiling any model trained on the data can reach, measured while the rows are
written by ``ProbabilityHistogram``. The generative model itself is documented in
``reaction.data.synthetic``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

TRUTH_FILE = "ground_truth.json"
SPLITS = ("train", "val", "test")

INFORMATIVE = "informative"  # a direct effect on the label(s) in `FieldTruth.strength`
REDUNDANT = "redundant"  # noisy copy of `source`, no effect of its own
NOISE = "noise"  # no effect on any label
LONG_TAIL = "long_tail"  # Zipf over a huge vocabulary; effects on the head values only
CONVERSION_ONLY = "conversion_only"  # drives `conversion`, never `click`
# recommender mode: no marginal effect, all of it in an affinity with the item (zero I(X;Y))
INTERACTION_ONLY = "interaction_only"

# Keys of SyntheticConfig that change how the work is chunked, not what is written.
NON_SEMANTIC_KEYS = ("chunk_rows",)
# Keys of the recommender mode (negative_ratio > 0). Left out of the recorded config while the
# mode is off, so every existing config keeps its fingerprint, folder and ground_truth.json.
RECOMMENDER_KEYS = (
    "negative_ratio",
    "num_users",
    "num_items",
    "num_contexts",
    "user_strength",
    "context_strength",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """What to plant; see ``reaction.data.synthetic`` for the generative model.

    A strength is the std of a term's logit contribution over the rows (categorical main effects,
    interaction tables, smooth numeric terms; long-tail: std of the head values' effects).
    Informative strengths are spread geometrically from max to min.
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
    # implicit-feedback recommender mode (reaction.data.synthetic_recsys); 0: off, the CTR data
    negative_ratio: int = 0  # sampled negatives (same user and context, random item) per positive
    num_users: int = 2000
    num_items: int = 300
    num_contexts: int = 3  # context fields (time, device, ...), each affine with the item only
    user_strength: float = 1.5  # std of the user x item affinity logit
    context_strength: float = 1.0  # std of the strongest context x item affinity (weakest: 1/2)

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
            *self._recommender_problems(),
        ]
        failed = [message for bad, message in problems if bad]
        if failed:
            raise ValueError(f"invalid SyntheticConfig: {'; '.join(failed)}")

    def _recommender_problems(self) -> list[tuple[bool, str]]:
        """The recommender mode's keys, each message naming the key, value and allowed range."""
        return [
            (self.negative_ratio < 0, f"negative_ratio={self.negative_ratio} (allowed: >= 0)"),
            (self.num_users < 2, f"num_users={self.num_users} (allowed: >= 2)"),
            (self.num_items < 2, f"num_items={self.num_items} (allowed: >= 2)"),
            (self.num_contexts < 0, f"num_contexts={self.num_contexts} (allowed: >= 0)"),
            (self.user_strength < 0, f"user_strength={self.user_strength} (allowed: >= 0)"),
            (
                self.context_strength < 0,
                f"context_strength={self.context_strength} (allowed: >= 0)",
            ),
            (
                self.recommender and self.conversion,
                "conversion=true needs negative_ratio=0 (sampled negatives have one label)",
            ),
            (
                self.recommender and self.num_redundant > 2,
                f"num_redundant={self.num_redundant} with negative_ratio > 0 (allowed: 0-2, "
                "copies of the item and the user)",
            ),
        ]

    @property
    def recommender(self) -> bool:
        """Implicit feedback with sampled negatives instead of the CTR generator."""
        return self.negative_ratio > 0

    @property
    def labels(self) -> tuple[str, ...]:
        return ("click", "conversion") if self.conversion else ("click",)

    def target_rate(self, label: str) -> float:
        """The positive rate the data is made to have (sampled negatives fix it exactly)."""
        if self.recommender:
            return 1.0 / (1 + self.negative_ratio)
        return self.click_rate if label == "click" else self.conversion_rate

    def recorded_dict(self) -> dict[str, object]:
        """The config as recorded in ``ground_truth.json``: the recommender keys only when on."""
        drop = () if self.recommender else RECOMMENDER_KEYS
        return {k: v for k, v in asdict(self).items() if k not in drop}

    def semantic_dict(self) -> dict[str, object]:
        """The config minus keys that do not change the output, to decide whether to regenerate."""
        return {k: v for k, v in self.recorded_dict().items() if k not in NON_SEMANTIC_KEYS}


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
