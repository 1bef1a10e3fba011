"""What every selector reads (``SearchConfig``, ``SearchData``) and returns (``FieldScores``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reaction.config.nodes import ConfigError, dataclass_from_node
from reaction.info.counts import RowSample


@dataclass(frozen=True)
class SearchConfig:
    """The knobs of the selectors (``afe.search.*``); each method reads the ones it needs.

    ``rows`` of the training split are sampled once; ``holdout_fraction`` of them score
    permutations, AutoField's architecture steps and AdaFS's weights, the rest train. The search
    network (learned methods) is ``FieldEmbedding(embedding_dim) -> gate -> MLP(hidden_units)``
    trained with Adam for ``epochs``. ``l1``: LASSO's group penalty; ``components``: PCA's;
    ``trees``: boosting iterations of ``gbdt``; ``repeats``: shuffles per field (permutation).
    """

    rows: int = 100_000
    holdout_fraction: float = 0.2
    embedding_dim: int = 8
    hidden_units: tuple[int, ...] = (64, 32)
    epochs: int = 3
    batch_size: int = 256
    lr: float = 1e-3
    l1: float = 1e-3
    components: int = 16
    trees: int = 100
    repeats: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_units", tuple(int(u) for u in self.hidden_units))
        checks = [
            (self.rows < 100, f"rows={self.rows} (allowed: >= 100)"),
            (
                not 0 < self.holdout_fraction < 1,
                f"holdout_fraction={self.holdout_fraction} (allowed: (0, 1))",
            ),
            (self.embedding_dim < 1, f"embedding_dim={self.embedding_dim} (allowed: >= 1)"),
            (
                any(u < 1 for u in self.hidden_units),
                f"hidden_units={list(self.hidden_units)} (allowed: each >= 1)",
            ),
            (self.epochs < 1, f"epochs={self.epochs} (allowed: >= 1)"),
            (self.batch_size < 1, f"batch_size={self.batch_size} (allowed: >= 1)"),
            (self.lr <= 0, f"lr={self.lr} (allowed: > 0)"),
            (self.l1 < 0, f"l1={self.l1} (allowed: >= 0)"),
            (self.components < 1, f"components={self.components} (allowed: >= 1)"),
            (self.trees < 1, f"trees={self.trees} (allowed: >= 1)"),
            (self.repeats < 1, f"repeats={self.repeats} (allowed: >= 1)"),
        ]
        bad = [f"afe.search.{message}" for failed, message in checks if failed]
        if bad:
            raise ConfigError(bad, "afe config")

    @classmethod
    def from_node(cls, node: Mapping[str, Any] | None) -> SearchConfig:
        """From the ``afe.search`` node; unknown keys are refused by name."""
        return dataclass_from_node(cls, node, "afe.search")


@dataclass(frozen=True)
class SearchData:
    """A row sample of the training split, cut into a fit part and a holdout part.

    ``ids`` are ``(n, F)`` feature-map ids, ``y`` the first label (what models train on).
    """

    fields: tuple[str, ...]
    vocab_sizes: tuple[int, ...]
    ids: NDArray
    y: NDArray
    holdout_ids: NDArray
    holdout_y: NDArray
    split_rows: int  # rows of the training split the sample came from

    @classmethod
    def from_sample(
        cls, sample: RowSample, vocab_sizes: tuple[int, ...], holdout_fraction: float, seed: int
    ) -> SearchData:
        y = sample.label(sample.labels[0]).astype(np.float32)
        order = np.random.default_rng(seed).permutation(sample.size)
        cut = max(1, int(round(sample.size * (1 - holdout_fraction))))
        fit, hold = order[:cut], order[cut:]
        ids = sample.ids.astype(np.int64)
        rows = sample.num_rows
        return cls(sample.fields, vocab_sizes, ids[fit], y[fit], ids[hold], y[hold], rows)

    @property
    def num_fields(self) -> int:
        return len(self.fields)


@dataclass(frozen=True)
class FieldScores:
    """One score per field (higher = keep first); ``zeroed`` fields the method itself removed
    (a zero group norm, a closed gate); ``search_seconds`` for methods that train a network;
    ``detail``: plain-JSON extras the plan records in ``fitted_on`` (ranked crosses)."""

    scores: dict[str, float]
    zeroed: frozenset[str] = frozenset()
    search_seconds: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def ranked(self) -> list[str]:
        """Fields by score, best first; ties broken by field order (deterministic)."""
        names = list(self.scores)
        return sorted(names, key=lambda f: (-self.scores[f], names.index(f)))
