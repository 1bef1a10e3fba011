"""Print one comparison table from the ``results.json`` files under a run or multirun folder.

``python -m reaction.summary outputs/demo`` — what ``make demo`` shows after training.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from reaction.metrics import keys
from reaction.utils.console import wide_console
from reaction.utils.results import RESULTS_FILE

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # header, section/key in results.json, format
    ("test AUC", f"metrics/{keys.TEST_AUC}", "{:.4f}"),
    ("logloss", f"metrics/{keys.TEST_LOGLOSS}", "{:.4f}"),
    ("Bayes AUC", f"data/{keys.BAYES_AUC}", "{:.4f}"),
    ("params", f"costs/{keys.PARAMS_TOTAL}", "{:,.0f}"),
    ("dense", f"costs/{keys.PARAMS_DENSE}", "{:,.0f}"),
    ("FLOPs/sample", f"costs/{keys.FLOPS_PER_SAMPLE}", "{:,.0f}"),
    ("ms/4096", f"costs/{keys.LATENCY_MS_PER_BATCH}", "{:.2f}"),
    ("train samples/s", f"costs/{keys.TRAIN_SAMPLES_PER_S}", "{:,.0f}"),
)


def load_results(root: Path) -> list[dict[str, Any]]:
    """Every ``results.json`` below ``root``, in path order."""
    return [json.loads(p.read_text()) for p in sorted(root.rglob(RESULTS_FILE))]


def _cell(result: dict[str, Any], path: str, fmt: str) -> str:
    section, key = path.split("/", 1)
    value = result.get(section, {}).get(key)
    return "-" if value is None else fmt.format(value)


def results_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="REACTION results")
    for header in ("model", "dataset", "seed", *(c[0] for c in COLUMNS)):
        table.add_column(header, justify="left" if header in ("model", "dataset") else "right")
    for result in results:
        cells = [_cell(result, path, fmt) for _, path, fmt in COLUMNS]
        table.add_row(result["model"], result["dataset"], str(result["seed"]), *cells)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a run or multirun folder")
    args = parser.parse_args()
    results = load_results(args.root)
    if not results:
        raise SystemExit(f"no {RESULTS_FILE} found under {args.root}")
    wide_console().print(results_table(results))


if __name__ == "__main__":
    main()
