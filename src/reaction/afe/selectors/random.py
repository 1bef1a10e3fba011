"""Random: a seeded random field order, the floor every selector must clear."""

from __future__ import annotations

import numpy as np

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData


def random(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    """Score ``(F - rank) / F`` of a permutation drawn from ``seed`` (same seed, same order)."""
    order = np.random.default_rng(seed).permutation(data.num_fields)
    n = data.num_fields
    return FieldScores({data.fields[f]: (n - rank) / n for rank, f in enumerate(order)})
