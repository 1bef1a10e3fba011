"""The knobs of AFE (``conf/afe/*.yaml``), validated before any data is read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from reaction.afe.selectors import METHODS
from reaction.afe.selectors.base import SearchConfig
from reaction.config.nodes import ConfigError
from reaction.info.estimators import CORRECTIONS, Correction

Variant = str  # "none", "paper", "extended" or a selector of reaction.afe.selectors
Ranking = Literal["greedy", "random"]
DimPolicy = Literal["uniform", "relevance"]
Interactions = Literal["off", "crossfit"]
INTERACTIONS: tuple[str, ...] = ("off", "crossfit")
# Read by interactions="crossfit" only (reaction.afe.interactions).
INTERACTION_KEYS = ("interaction_partners", "interaction_z", "interaction_shrinkage")
VARIANTS: tuple[str, ...] = ("none", "paper", "extended", *METHODS)
# What a selector other than AFE reads (its knobs are under afe.search).
SELECTOR_KEYS = ("variant", "num_fields", "seed", "search")
# Read by variant="extended" only (reaction.afe.plan); the paper's selector ignores them.
EXTENSION_KEYS = (
    "mi_retain",
    "tail_buckets",
    "value_shrinkage",
    "dim_policy",
    "min_dim",
    "subspace_dim",
    "ib_beta",
)


@dataclass(frozen=True)
class AFEConfig:
    """What to select and how to compress it; ``variant="none"`` turns AFE off.

    Selection (the paper's method): greedy ``J = PI + BI + CI`` up to ``num_fields`` fields (None:
    no budget), stopping when the best ``J`` falls below ``mi_threshold * sum_l H(Y_l)``; fields
    whose relevance is at or below the permutation null for every label are noise and never
    candidates (``drop_noise``). ``redundancy_guard``: see ``reaction.afe.selector``.
    ``interactions="crossfit"`` (``reaction.afe.interactions``): a field at the null is noise only
    if it has no interaction evidence either -- a cross-fitted ``I(X_m;Y|X_s)`` above
    ``interaction_z`` standard errors with one of the ``interaction_partners`` strongest fields
    (pseudo-counts ``interaction_shrinkage``) -- and pairs too sparse for the plug-in terms get
    the cross-fitted estimate instead of 0; ``"off"`` is the paper's formula as before.
    ``ranking="random"`` replaces the greedy order by a seeded random one (the baseline of the
    field-count curve). ``variant`` may also name another selector (``reaction.afe.selectors``),
    which reads ``num_fields``, ``seed`` and its own knobs ``search`` only.
    Extensions (``variant="extended"``): ``mi_retain`` / ``tail_buckets``
    (vocabulary compression), ``dim_policy`` with ``min_dim`` (embedding size per field),
    ``subspace_dim`` / ``ib_beta`` (projection of the concatenated embeddings).
    """

    variant: Variant = "none"
    num_fields: int | None = None
    mi_threshold: float = 0.0
    ranking: Ranking = "greedy"
    drop_noise: bool = True
    redundancy_guard: bool = True
    redundancy_ratio: float = 0.1
    redundancy_z: float = 3.0
    correction: Correction = "miller_madow"
    null_permutations: int = 100
    null_quantile: float = 0.99
    pair_sample_rows: int = 500_000
    pair_shuffles: int = 1
    pair_min_rows_per_cell: float = 30.0
    interactions: Interactions = "crossfit"
    interaction_partners: int = 3
    interaction_z: float = 3.0
    interaction_shrinkage: float = 10.0
    seed: int = 0
    mi_retain: float | None = None
    tail_buckets: int = 4
    value_shrinkage: float = 10.0
    dim_policy: DimPolicy = "uniform"
    min_dim: int = 4
    subspace_dim: int | None = None
    ib_beta: float = 0.0
    search: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        search_problems = self._plain_search()
        problems = [
            (self.variant not in VARIANTS, f"variant={self.variant!r} (allowed: {VARIANTS})"),
            (
                self.num_fields is not None and self.num_fields < 1,
                f"num_fields={self.num_fields} (allowed: null or >= 1)",
            ),
            (
                not 0 <= self.mi_threshold <= 1,
                f"mi_threshold={self.mi_threshold} (allowed: [0, 1])",
            ),
            (
                self.ranking not in ("greedy", "random"),
                f"ranking={self.ranking!r} (allowed: greedy, random)",
            ),
            (
                not 0 <= self.redundancy_ratio < 1,
                f"redundancy_ratio={self.redundancy_ratio} (allowed: [0, 1))",
            ),
            (self.redundancy_z < 0, f"redundancy_z={self.redundancy_z} (allowed: >= 0)"),
            (
                self.correction not in CORRECTIONS,
                f"correction={self.correction!r} (allowed: {CORRECTIONS})",
            ),
            (
                self.null_permutations < 1,
                f"null_permutations={self.null_permutations} (allowed: >= 1)",
            ),
            (
                not 0 <= self.null_quantile <= 1,
                f"null_quantile={self.null_quantile} (allowed: [0, 1])",
            ),
            (
                self.pair_sample_rows < 1,
                f"pair_sample_rows={self.pair_sample_rows} (allowed: >= 1)",
            ),
            (self.pair_shuffles < 0, f"pair_shuffles={self.pair_shuffles} (allowed: >= 0)"),
            (
                self.pair_min_rows_per_cell < 0,
                f"pair_min_rows_per_cell={self.pair_min_rows_per_cell} (allowed: >= 0)",
            ),
            (
                self.interactions not in INTERACTIONS,
                f"interactions={self.interactions!r} (allowed: {', '.join(INTERACTIONS)})",
            ),
            (
                self.interaction_partners < 1,
                f"interaction_partners={self.interaction_partners} (allowed: >= 1)",
            ),
            (self.interaction_z < 0, f"interaction_z={self.interaction_z} (allowed: >= 0)"),
            (
                self.interaction_shrinkage <= 0,
                f"interaction_shrinkage={self.interaction_shrinkage} (allowed: > 0)",
            ),
            (
                self.mi_retain is not None and not 0 < self.mi_retain <= 1,
                f"mi_retain={self.mi_retain} (allowed: null or (0, 1])",
            ),
            (self.tail_buckets < 1, f"tail_buckets={self.tail_buckets} (allowed: >= 1)"),
            (
                self.value_shrinkage < 0,
                f"value_shrinkage={self.value_shrinkage} (allowed: >= 0)",
            ),
            (
                self.dim_policy not in ("uniform", "relevance"),
                f"dim_policy={self.dim_policy!r} (allowed: uniform, relevance)",
            ),
            (self.min_dim < 1, f"min_dim={self.min_dim} (allowed: >= 1)"),
            (
                self.subspace_dim is not None and self.subspace_dim < 1,
                f"subspace_dim={self.subspace_dim} (allowed: null or >= 1)",
            ),
            (self.ib_beta < 0, f"ib_beta={self.ib_beta} (allowed: >= 0)"),
            (
                self.ib_beta > 0 and self.subspace_dim is None,
                f"ib_beta={self.ib_beta} needs a subspace_dim (the bottleneck it regularises)",
            ),
        ]
        bad = [f"afe.{message}" for failed, message in problems if failed] + search_problems
        if bad:
            raise ConfigError(bad, "afe config")

    def _plain_search(self) -> list[str]:
        """Validate ``search`` (its problems, each naming its key) and store it as plain values."""
        if self.search is None:
            return []
        try:
            search = asdict(SearchConfig.from_node(self.search))
        except ConfigError as error:
            return error.problems
        search["hidden_units"] = list(search["hidden_units"])
        object.__setattr__(self, "search", search)
        return []

    def unread_keys(self) -> dict[str, str]:
        """Keys set away from their default that this config never reads, and why: a silent
        no-op that looks like an experiment (``afe=paper afe.dim_policy=relevance``)."""
        if self.variant == "none":
            unread = {f.name: "AFE is off (afe=none)" for f in fields(self) if f.name != "variant"}
        elif self.selector:
            why = f"afe={self.variant} reads {list(SELECTOR_KEYS)} only"
            unread = {f.name: why for f in fields(self) if f.name not in SELECTOR_KEYS}
        elif self.variant != "extended":
            unread = dict.fromkeys(EXTENSION_KEYS, "only afe=extended reads it")
        else:
            unread = {}
        if self.enabled and not self.selector and self.interactions == "off":
            unread |= dict.fromkeys(INTERACTION_KEYS, "needs afe.interactions=crossfit")
        if self.variant == "extended":
            if self.mi_retain is None:
                unread |= dict.fromkeys(("tail_buckets", "value_shrinkage"), "needs afe.mi_retain")
            if self.dim_policy != "relevance":
                unread["min_dim"] = "needs afe.dim_policy=relevance"
        if self.enabled and not self.selector:
            unread["search"] = "only the selectors of reaction.afe.selectors read it"
        default = AFEConfig()
        return {k: why for k, why in unread.items() if getattr(self, k) != getattr(default, k)}

    @property
    def enabled(self) -> bool:
        return self.variant != "none"

    @property
    def selector(self) -> bool:
        """Whether a selector other than AFE picks the fields (``reaction.afe.selectors``)."""
        return self.variant in METHODS

    @property
    def flat_embeddings(self) -> bool:
        """Whether the embeddings reach the model concatenated (mixed sizes or projected): the
        extended variant's ``dim_policy=relevance`` or ``subspace_dim``."""
        extensions = self.dim_policy != "uniform" or self.subspace_dim is not None
        return self.variant == "extended" and extensions

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
