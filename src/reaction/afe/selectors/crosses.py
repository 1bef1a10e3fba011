"""Selectors that rank feature *crosses* (TayFCS, IDARTS) and their reduction to one field set.

Both papers select combinations of fields (``C3 & C7``), not fields; the AFE plan keeps one field
set. The reduction used here: rank the crosses by the method's own score, best first (ties: the
cross whose field indices come first), and give each field the score of the **first cross it
appears in** -- its best cross. Ranking the fields by that score is ranking them by first
appearance in the ranked cross list, so a budget of ``k`` fields keeps the fields of the top
crosses, the fields a cross-selection run of the same method would have to read. Every pair of
fields is a candidate, so every field gets a score. The ranked crosses themselves travel in the
plan's ``fitted_on["crosses"]`` (top ``RECORDED`` of them), so the cross-level result is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Cross = tuple[int, ...]  # field indices, ascending
RECORDED = 50  # crosses written into the plan


def rank_crosses(scores: dict[Cross, float]) -> list[tuple[Cross, float]]:
    """Crosses by score, best first; ties by their field indices (deterministic)."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def first_appearance(
    fields: Sequence[str], ranked: Iterable[tuple[Cross, float]]
) -> dict[str, float]:
    """Each field's score: the score of the best-ranked cross that contains it."""
    scores: dict[str, float] = {}
    for cross, score in ranked:
        for f in cross:
            scores.setdefault(fields[f], float(score))
    missing = [f for f in fields if f not in scores]
    if missing:
        raise ValueError(f"fields {missing} appear in no ranked cross")
    return {f: scores[f] for f in fields}


def cross_record(
    fields: Sequence[str], ranked: Sequence[tuple[Cross, float]], top: int = RECORDED
) -> list[dict[str, Any]]:
    """The top ``top`` crosses as plain JSON: field names and score."""
    return [{"fields": [fields[i] for i in cross], "score": float(s)} for cross, s in ranked[:top]]
