"""``results.json``: the one file per run that reports and comparisons read."""

from __future__ import annotations

from typing import Any

RESULTS_FILE = "results.json"


def build_results(
    *,
    model: str,
    dataset: str,
    seed: int,
    metrics: dict[str, float],
    costs: dict[str, float],
    data: dict[str, Any],
    config: dict[str, Any],
    afe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The schema of REACTION.md "What every run must report" (+ the AFE plan served, if any)."""
    extra = {"afe": afe} if afe is not None else {}
    return {
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "metrics": metrics,
        "costs": costs,
        "data": data,
        "config": config,
        **extra,
    }
