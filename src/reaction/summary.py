"""One comparison table from the ``results.json`` files under a run or multirun folder.

``python -m reaction.summary outputs/zoo --write`` — runs are grouped by (model, dataset), a
model behind AFE named ``<model>+afe:<variant>`` (plus ``/<k>`` with a field budget); every
column is the mean over the group's seeds, metrics also with their standard deviation, so a
multirun over models x seeds reads as one table. ``--write`` saves it beside the runs as
``summary.md`` and ``summary.csv`` (the numbers the experiment READMEs quote).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import polars as pl
from rich.table import Table

from reaction.metrics import keys
from reaction.utils.console import wide_console
from reaction.utils.results import RESULTS_FILE

# header, section/key in results.json, format, whether the seed spread is shown
COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("test AUC", f"metrics/{keys.TEST_AUC}", "{:.4f}", True),
    ("logloss", f"metrics/{keys.TEST_LOGLOSS}", "{:.4f}", True),
    ("Bayes AUC", f"data/{keys.BAYES_AUC}", "{:.4f}", False),
    ("params", f"costs/{keys.PARAMS_TOTAL}", "{:,.0f}", False),
    ("embedding", f"costs/{keys.PARAMS_EMBEDDING}", "{:,.0f}", False),
    ("dense", f"costs/{keys.PARAMS_DENSE}", "{:,.0f}", False),
    ("FLOPs/sample", f"costs/{keys.FLOPS_PER_SAMPLE}", "{:,.0f}", False),
    ("ms/4096", f"costs/{keys.LATENCY_MS_PER_BATCH}", "{:.2f}", False),
    ("train samples/s", f"costs/{keys.TRAIN_SAMPLES_PER_S}", "{:,.0f}", False),
)
GROUP = ("model", "dataset")


def load_results(root: Path) -> list[dict[str, Any]]:
    """Every ``results.json`` below ``root``, in path order."""
    return [json.loads(p.read_text()) for p in sorted(root.rglob(RESULTS_FILE))]


def _fusion_tag(config: dict[str, Any]) -> str:
    """``+fusion:<kind or DTF schedule>`` for multi-tower models (those with ``towers`` metrics)."""
    fusion = config.get("fusion") or {}
    kind = fusion.get("kind", "none")
    tag = fusion.get("schedule", {}).get("name", kind) if kind == "dtf" else kind
    towers = fusion.get("towers", 1)
    return f"+fusion:{tag}" + (f"x{towers}" if towers > 1 else "")


def _config_value(config: dict[str, Any], dotted: str) -> Any:
    """``config["a"]["b"]`` for ``"a.b"``; None when absent (or AFE is off for ``afe.*``)."""
    if dotted.startswith("afe.") and config.get("afe", {}).get("variant") == "none":
        return None
    for key in dotted.split("."):
        config = config.get(key, {}) if isinstance(config, dict) else {}
    return config if config != {} else None


def run_label(result: dict[str, Any], by: tuple[str, ...] = ()) -> str:
    """The model column: the model's name, the AFE variant (and field budget) it ran behind,
    for multi-tower models its fusion, and ``key=value`` for every config key in ``by``."""
    config = result.get("config", {})
    label = result["model"]
    afe = result.get("afe")
    if afe:
        cfg = config.get("afe", {})
        order = "-random" if cfg.get("ranking") == "random" else ""
        budget = f"/{cfg['num_fields']}" if cfg.get("num_fields") else ""
        label += f"+afe:{afe['variant']}{order}{budget}"
    if "test/tower0/auc" in result.get("metrics", {}):
        label += _fusion_tag(config)
    values = {key: _config_value(config, key) for key in by}
    return label + "".join(f" {k}={v}" for k, v in values.items() if v is not None)


def _value(result: dict[str, Any], path: str) -> float | None:
    section, key = path.split("/", 1)
    value = result.get(section, {}).get(key)
    return None if value is None else float(value)


def aggregate(results: list[dict[str, Any]], by: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per (model, dataset): ``seeds``, and ``<header>`` / ``<header> std`` per column.

    Sorted by mean test AUC, best first. The std is the sample std over seeds (null for one seed).
    """
    runs = pl.DataFrame(
        [
            {
                "model": run_label(r, by),
                "dataset": r["dataset"],
                "seed": r["seed"],
                **{h: _value(r, path) for h, path, _, _ in COLUMNS},
            }
            for r in results
        ],
        schema={**dict.fromkeys(GROUP, pl.String), "seed": pl.Int64}
        | {h: pl.Float64 for h, *_ in COLUMNS},
    )
    stats = [pl.len().alias("seeds")]
    for header, _, _, spread in COLUMNS:
        stats.append(pl.col(header).mean())
        if spread:
            stats.append(pl.col(header).std().alias(f"{header} std"))
    first_seen = runs.with_row_index("order").group_by(GROUP).agg(pl.col("order").min())
    table = runs.group_by(GROUP).agg(stats).join(first_seen, on=list(GROUP))
    return table.sort(["test AUC", "order"], descending=[True, False], nulls_last=True).drop(
        "order"
    )


def _cells(row: dict[str, Any]) -> list[str]:
    cells = [row["model"], row["dataset"], str(row["seeds"])]
    for header, _, fmt, spread in COLUMNS:
        mean, std = row[header], row.get(f"{header} std")
        if mean is None or math.isnan(mean):
            cells.append("-")
        elif spread and std is not None:
            cells.append(f"{fmt.format(mean)} ± {fmt.format(std)}")
        else:
            cells.append(fmt.format(mean))
    return cells


def _headers() -> list[str]:
    return ["model", "dataset", "seeds", *(c[0] for c in COLUMNS)]


def results_table(table: pl.DataFrame, title: str = "REACTION results") -> Table:
    """The aggregated table for the terminal."""
    rich_table = Table(title=title)
    for header in _headers():
        rich_table.add_column(header, justify="left" if header in GROUP else "right")
    for row in table.iter_rows(named=True):
        rich_table.add_row(*_cells(row))
    return rich_table


def to_markdown(table: pl.DataFrame) -> str:
    """A GitHub table, as pasted into experiment READMEs and closing notes."""
    lines = ["| " + " | ".join(_headers()) + " |", "|" + "---|" * len(_headers())]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in table.iter_rows(named=True)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a run or multirun folder")
    parser.add_argument("--write", action="store_true", help="save summary.md and summary.csv")
    parser.add_argument(
        "--by", action="append", default=[], help="also group by a config key, e.g. afe.mi_retain"
    )
    args = parser.parse_args()
    results = load_results(args.root)
    if not results:
        raise SystemExit(f"no {RESULTS_FILE} found under {args.root}")
    table = aggregate(results, tuple(args.by))
    wide_console().print(results_table(table))
    if args.write:
        (args.root / "summary.md").write_text(to_markdown(table))
        table.write_csv(args.root / "summary.csv")


if __name__ == "__main__":
    main()
