"""A selector's ranking -> the AFE plan every model reads (``reaction.afe.plan.AFEPlan``).

Chosen: the ``afe.num_fields`` best-ranked fields, in rank order, each with its ``score``
(``num_fields: null``: every field the method did not zero out). Dropped: the rest, with
``reason`` ``budget`` (ranked below the k-th) or ``zeroed`` (removed by the method itself: a zero
group norm, a shut gate), their score and rank. ``fitted_on`` records the method, the sample and
the seconds of the whole fit and, for methods that train a model, of the search alone; a
method that ranks crosses (TayFCS, IDARTS) adds its ranked crosses there (``crosses``,
``eliminated``), which the served model does not read (``fitted_on`` is outside the fingerprint).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import torch

from reaction.afe.config import AFEConfig
from reaction.afe.plan import AFEPlan, PlannedField, _file_hash
from reaction.afe.selectors import LEARNED
from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.registry import SELECTORS
from reaction.afe.selectors.score_cache import Ranking, cached_scores, scores_key
from reaction.config.nodes import ConfigError
from reaction.data.schema import FeatureMap
from reaction.info.counts import sample_rows

BUDGET, ZEROED = "budget", "zeroed"


def chosen_fields(scores: FieldScores, num_fields: int | None) -> list[str]:
    """The top ``num_fields`` of the ranking (None: every field not zeroed)."""
    ranked = scores.ranked()
    if num_fields is None:
        return [f for f in ranked if f not in scores.zeroed]
    return ranked[:num_fields]


def score_fields(train_path: str | Path, feature_map: FeatureMap, cfg: AFEConfig) -> Ranking:
    """Run ``cfg.variant`` on a seeded row sample of the training split, or reuse its stored
    ranking (``score_cache``: then the split is not read at all)."""
    search = SearchConfig.from_node(cfg.search)
    names = tuple(feature_map.field_names)
    if cfg.num_fields is not None and cfg.num_fields > len(names):
        raise ConfigError(
            [f"afe.num_fields={cfg.num_fields} (allowed: null or 1..{len(names)}, the fields)"],
            "afe config",
        )

    def search_now() -> tuple[FieldScores, int, int]:
        sample = sample_rows(train_path, names, feature_map.labels, search.rows, cfg.seed)
        sizes = tuple(int(v) for v in feature_map.vocab_sizes)
        data = SearchData.from_sample(sample, sizes, search.holdout_fraction, cfg.seed)
        torch.manual_seed(cfg.seed)
        scores = SELECTORS[cfg.variant](data, search, cfg.seed)
        return scores, data.split_rows, len(data.y) + len(data.holdout_y)

    key = scores_key(cfg.variant, asdict(search), cfg.seed, Path(train_path),
                     feature_map.fingerprint())  # fmt: skip
    return cached_scores(Path(train_path), key, search_now)


def fit_selector_plan(
    train_path: str | Path,
    feature_map: FeatureMap,
    cfg: AFEConfig,
    vocab_files: Mapping[str, Path] | None = None,
) -> AFEPlan:
    """The plan of selector ``cfg.variant``, fitted on the training split at ``train_path``."""
    start = time.perf_counter()
    ranking = score_fields(train_path, feature_map, cfg)
    scores = ranking.scores
    chosen = chosen_fields(scores, cfg.num_fields)
    sizes = dict(zip(feature_map.field_names, feature_map.vocab_sizes, strict=True))
    files = vocab_files or {}
    fields = tuple(
        PlannedField(f, sizes[f], _file_hash(files.get(f)), None, None, None, None,
                     score=scores.scores[f])
        for f in chosen
    )  # fmt: skip
    rank = {f: r for r, f in enumerate(scores.ranked(), start=1)}
    dropped = tuple(
        {"field": f, "reason": ZEROED if f in scores.zeroed else BUDGET,
         "score": scores.scores[f], "rank": rank[f]}
        for f in scores.ranked() if f not in chosen
    )  # fmt: skip
    fitted_on = {
        "split": "train",
        "method": cfg.variant,
        "rows": ranking.split_rows,
        "sample_rows": ranking.sample_rows,
        "feature_map": feature_map.fingerprint(),
        # what the plan costs from scratch: a reused ranking adds the seconds it took once
        "seconds": time.perf_counter() - start + (ranking.seconds if ranking.reused else 0.0),
        "scores_reused": ranking.reused,
    }
    if cfg.variant in LEARNED:
        fitted_on["search_seconds"] = scores.search_seconds
    fitted_on.update(scores.detail)
    return AFEPlan(cfg.variant, tuple(feature_map.labels), fields, dropped, None, 0.0,
                   fitted_on, cfg.to_dict())  # fmt: skip
