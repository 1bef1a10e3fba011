"""A selector's field ranking, kept beside the data cache so a sweep over ``afe.num_fields``
searches once.

Every selector ranks all fields; ``num_fields`` only cuts the ranking. A learned search costs
10-150 s, so a k in {4, 8, 12, 16} study would otherwise repeat the same search four times per
method and seed. The ranking is stored under ``<data cache>-afe-scores/<key>.json``, where the key
hashes everything the ranking depends on: the method, its ``afe.search`` knobs, the seed, the
training file's identity and the feature map. Delete the folder to search again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reaction.afe.selectors.base import FieldScores
from reaction.data.cache import file_identity

log = logging.getLogger(__name__)

SCORES_VERSION = "afe-scores-v2"  # bump when a selector's ranking for the same inputs changes


def scores_key(
    method: str, search: dict[str, Any], seed: int, train_path: Path, feature_map_fp: str
) -> str:
    """sha256 of what a ranking depends on (``search``: the ``afe.search`` knobs as plain data)."""
    payload = {
        "version": SCORES_VERSION,
        "method": method,
        "search": search,
        "seed": seed,
        "train": file_identity(train_path),
        "feature_map": feature_map_fp,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def scores_dir(train_path: Path) -> Path:
    """``<data cache>-afe-scores``: a sibling, so the sealed data cache itself is not touched."""
    cache = train_path.resolve().parent
    return cache.with_name(f"{cache.name}-afe-scores")


@dataclass(frozen=True)
class Ranking:
    """A selector's scores, the rows they were fitted on (the training split's and the sample's),
    the wall seconds computing them took, and whether they were reused (then nothing is read)."""

    scores: FieldScores
    split_rows: int
    sample_rows: int
    seconds: float
    reused: bool


Search = Callable[[], tuple[FieldScores, int, int]]  # -> scores, split rows, sample rows


def cached_scores(train_path: Path, key: str, compute: Search) -> Ranking:
    """The stored ranking for ``key``, or ``compute()``'s, stored atomically."""
    path = scores_dir(train_path) / f"{key}.json"
    if path.is_file():
        try:
            return _from_json(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as err:  # a damaged file: search again
            log.warning("AFE scores %s unreadable (%s); searching again", path, err)
    start = time.perf_counter()
    scores, split_rows, sample_rows = compute()
    ranking = Ranking(scores, split_rows, sample_rows, time.perf_counter() - start, reused=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_to_json(ranking)))  # key order = field order (ties)
    tmp.replace(path)
    return ranking


def _to_json(ranking: Ranking) -> dict[str, Any]:
    scores = ranking.scores
    return {
        "scores": scores.scores,
        "zeroed": sorted(scores.zeroed),
        "search_seconds": scores.search_seconds,
        "detail": scores.detail,
        "split_rows": ranking.split_rows,
        "sample_rows": ranking.sample_rows,
        "seconds": ranking.seconds,
    }


def _from_json(data: dict[str, Any]) -> Ranking:
    scores = FieldScores(
        scores={str(f): float(s) for f, s in data["scores"].items()},
        zeroed=frozenset(data["zeroed"]),
        search_seconds=data["search_seconds"],
        detail=dict(data["detail"]),
    )
    rows = int(data["split_rows"]), int(data["sample_rows"])
    return Ranking(scores, *rows, float(data["seconds"]), reused=True)
