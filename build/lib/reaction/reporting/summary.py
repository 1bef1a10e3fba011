"""One comparison table from the ``results.json`` files under a run or multirun folder.

Runs are grouped by (model, dataset), a model behind AFE named ``<model>+afe:<variant>`` (plus
``/<k>`` with a field budget); every column is the mean over the group's seeds, metrics also with
their standard deviation, so a multirun over models x seeds reads as one table.
``reaction.reporting.report`` (``reaction-report``) builds on the same loading, labels and
aggregation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl
from rich.table import Table

from reaction.metrics import keys
from reaction.runs.labels import run_label
from reaction.runs.results import RESULTS_FILE
from reaction.runs.run_dir import RunDir


class Column(NamedTuple):
    """A table column: its header, where it lives in results.json, its format, and whether the
    seed spread is shown (``path`` is None for columns computed from other columns)."""

    header: str
    path: str | None
    fmt: str
    spread: bool


COLUMNS: tuple[Column, ...] = (
    Column("test AUC", f"metrics/{keys.TEST_AUC}", "{:.4f}", True),
    Column("logloss", f"metrics/{keys.TEST_LOGLOSS}", "{:.4f}", True),
    Column("Bayes AUC", f"data/{keys.BAYES_AUC}", "{:.4f}", False),
    Column("params", f"costs/{keys.PARAMS_TOTAL}", "{:,.0f}", False),
    Column("embedding", f"costs/{keys.PARAMS_EMBEDDING}", "{:,.0f}", False),
    Column("dense", f"costs/{keys.PARAMS_DENSE}", "{:,.0f}", False),
    Column("FLOPs/sample", f"costs/{keys.FLOPS_PER_SAMPLE}", "{:,.0f}", False),
    Column("ms/4096", f"costs/{keys.LATENCY_MS_PER_BATCH}", "{:.2f}", False),
    Column("train samples/s", f"costs/{keys.TRAIN_SAMPLES_PER_S}", "{:,.0f}", False),
)
GROUP = ("model", "dataset")
REQUIRED = ("model", "dataset", "seed")


class ResultsError(ValueError):
    """Input that cannot be tabulated: no results under a folder, a malformed file, a bad key."""


def load_results(root: Path) -> list[dict[str, Any]]:
    """Every ``results.json`` below ``root``, in path order; a malformed one is named."""
    results = []
    for run in RunDir.finished_under(root):
        path = run.results
        try:
            result = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ResultsError(f"malformed {path}: {err}") from err
        if not isinstance(result, dict) or any(k not in result for k in REQUIRED):
            raise ResultsError(f"malformed {path}: not an object with keys {', '.join(REQUIRED)}")
        results.append(result)
    return results


def require_results(root: Path) -> list[dict[str, Any]]:
    """``load_results``, failing when ``root`` holds no run (a typo'd or unfinished folder)."""
    results = load_results(root) if root.is_dir() else []
    if not results:
        raise ResultsError(f"no {RESULTS_FILE} found under {root}")
    return results


def result_value(result: dict[str, Any], path: str) -> float | None:
    """The number at ``section/key`` (e.g. ``costs/params/total``); None when absent."""
    section, key = path.split("/", 1)
    value = result.get(section, {}).get(key)
    return None if value is None else float(value)


def run_frame(
    results: list[dict[str, Any]], by: tuple[str, ...] = (), columns: Sequence[Column] = COLUMNS
) -> pl.DataFrame:
    """One row per run: its label (``model``), ``dataset``, ``seed`` and every column's value."""
    return pl.DataFrame(
        [
            {
                "model": run_label(r, by),
                "dataset": r["dataset"],
                "seed": r["seed"],
                **{c.header: result_value(r, c.path) for c in columns},
            }
            for r in results
        ],
        schema={**dict.fromkeys(GROUP, pl.String), "seed": pl.Int64}
        | {c.header: pl.Float64 for c in columns},
    )


def aggregate_runs(
    runs: pl.DataFrame, columns: Sequence[Column] = COLUMNS, group: Sequence[str] = GROUP
) -> pl.DataFrame:
    """One row per ``group`` (in first-seen order): ``seeds`` (runs), ``<header>`` and, for spread
    columns, ``<header> std``.

    Missing values are skipped; the std is numpy's sample std (ddof=1), null under two values.
    """
    rows = []
    for keys_, part in runs.group_by(list(group), maintain_order=True):
        row: dict[str, Any] = {**dict(zip(group, keys_, strict=True)), "seeds": part.height}
        for c in columns:
            values = part[c.header].drop_nulls().to_numpy()
            row[c.header] = float(np.mean(values)) if values.size else None
            if c.spread:
                row[f"{c.header} std"] = float(np.std(values, ddof=1)) if values.size > 1 else None
        rows.append(row)
    schema: dict[str, Any] = {g: runs.schema[g] for g in group} | {"seeds": pl.Int64}
    for c in columns:
        schema[c.header] = pl.Float64
        if c.spread:
            schema[f"{c.header} std"] = pl.Float64
    return pl.DataFrame(rows, schema=schema)


def best_first(table: pl.DataFrame) -> pl.DataFrame:
    """Sorted by mean test AUC, best first; ties (and missing AUCs, last) keep their order."""
    return table.sort("test AUC", descending=True, nulls_last=True, maintain_order=True)


def aggregate(results: list[dict[str, Any]], by: tuple[str, ...] = ()) -> pl.DataFrame:
    """The summary table: one row per (model, dataset) over ``COLUMNS``, best first."""
    return best_first(aggregate_runs(run_frame(results, by), COLUMNS))


def format_cell(value: float | None, std: float | None, fmt: str) -> str:
    """``mean ± std`` (or the value alone); ``-`` when missing."""
    if value is None or math.isnan(value):
        return "-"
    return f"{fmt.format(value)} ± {fmt.format(std)}" if std is not None else fmt.format(value)


def _cells(row: dict[str, Any], columns: Sequence[Column]) -> list[str]:
    cells = [row["model"], row["dataset"], str(row["seeds"])]
    for c in columns:
        std = row.get(f"{c.header} std") if c.spread else None
        cells.append(format_cell(row[c.header], std, c.fmt))
    return cells


def _headers(columns: Sequence[Column]) -> list[str]:
    return [*GROUP, "seeds", *(c.header for c in columns)]


def results_table(
    table: pl.DataFrame, title: str = "REACTION results", columns: Sequence[Column] = COLUMNS
) -> Table:
    """The aggregated table for the terminal."""
    rich_table = Table(title=title)
    for header in _headers(columns):
        rich_table.add_column(header, justify="left" if header in GROUP else "right")
    for row in table.iter_rows(named=True):
        rich_table.add_row(*_cells(row, columns))
    return rich_table


def to_markdown(table: pl.DataFrame, columns: Sequence[Column] = COLUMNS) -> str:
    """A GitHub table, as pasted into experiment READMEs and closing notes."""
    headers = _headers(columns)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cells(row, columns)) + " |" for row in table.iter_rows(named=True)]
    return "\n".join(lines) + "\n"
