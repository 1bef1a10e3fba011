"""``results.json``: the one file per run that reports and comparisons read."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write via a temp file + rename so a killed run never leaves half a JSON behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2, default=_jsonable)
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    """Tensors and numpy scalars become plain floats."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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
