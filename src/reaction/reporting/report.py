"""The comparison report: the table with significance, Pareto and sweep plots (``reaction-report``).

``reaction-report outputs/ablation_dtf --baseline reaction --sweep fusion.schedule.name`` reads
every ``results.json`` below the folder (grouped as ``reaction.reporting.summary`` groups them) and
writes ``<root>/report/``: ``report.md`` and ``report.csv`` (mean ± std over seeds of test AUC,
logloss, best val AUC and the costs, with a Welch t-test p-value against the baseline), the Pareto
plots ``pareto_params.png`` and ``pareto_latency.png``, and one ``sweep_<key>.png`` per ``--sweep``.
A sweep key is a dotted config key (``afe.mi_threshold``, ``afe.num_fields``,
``fusion.schedule.name``) or a ``section/key`` path into results.json (``costs/afe/fields_after``:
the fields the AFE plan actually kept)."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import ttest_ind

from reaction.metrics import keys
from reaction.reporting.plots import COST, plot_pareto, plot_sweep
from reaction.reporting.summary import (
    COLUMNS,
    GROUP,
    Column,
    ResultsError,
    aggregate_runs,
    best_first,
    require_results,
    result_value,
    run_frame,
    to_markdown,
)
from reaction.runs.labels import config_value, run_label

log = logging.getLogger(__name__)

TEST_AUC = "test AUC"
LOGLOSS = "logloss"
TESTED = (TEST_AUC, LOGLOSS)  # the metrics compared with the baseline
_SUMMARY = {c.header: c for c in COLUMNS}
REPORT_COLUMNS: tuple[Column, ...] = (
    _SUMMARY[TEST_AUC],
    _SUMMARY[LOGLOSS],
    Column("best val AUC", f"metrics/{keys.VAL_AUC}", "{:.4f}", True),
    _SUMMARY["Bayes AUC"],
    *(c._replace(spread=True) for c in COLUMNS if c.path and c.path.startswith("costs/")),
)
PARETO = {"pareto_params.png": "params", "pareto_latency.png": "ms/4096"}  # file: x column
# A swept results value set by a config key that also names the group: lines ignore that key.
_SWEEP_HIDES = {f"costs/{keys.AFE_FIELDS_AFTER}": "afe.num_fields"}


def p_header(header: str) -> str:
    return f"p {header}"


def welch_p_values(
    runs: pl.DataFrame, table: pl.DataFrame, baseline: str, header: str
) -> list[float | None]:
    """Two-sided Welch t-test p-value of each ``table`` group's per-seed ``header`` against the
    baseline group of the same dataset; None for the baseline and where a side has < 2 seeds."""
    samples = {k: part[header].drop_nulls().to_numpy() for k, part in runs.group_by(list(GROUP))}
    p_values: list[float | None] = []
    for label, dataset in table.select(GROUP).iter_rows():
        a, b = samples[(label, dataset)], samples.get((baseline, dataset), np.empty(0))
        tested = label != baseline and a.size > 1 and b.size > 1
        p_values.append(float(ttest_ind(a, b, equal_var=False).pvalue) if tested else None)
    return p_values


def unique_runs(results: list[dict[str, Any]], by: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One run per (label, dataset, seed): a seed counted twice would shrink the std and the
    p-values. Folders of several sweeps can hold the same run twice (a deterministic re-run: the
    metrics match, it is kept once); the same seed with other metrics is an error naming both."""
    kept: dict[tuple[str, str, Any], dict[str, Any]] = {}
    for result in results:
        key = (run_label(result, by), result["dataset"], result["seed"])
        first = kept.setdefault(key, result)
        if first is result:
            continue
        where = [r.get("config", {}).get("paths", {}).get("output_dir") for r in (first, result)]
        if first.get("metrics") != result.get("metrics"):
            raise ResultsError(
                f"{key[0]} seed {key[2]} appears twice with different metrics: {where[0]} and "
                f"{where[1]}; report them from separate folders or add --by KEY to tell them apart"
            )
        log.warning("%s seed %s appears twice (%s, %s): counted once", key[0], key[2], *where)
    return list(kept.values())


def label_columns(results: list[dict[str, Any]]) -> tuple[Column, ...]:
    """``<label> AUC`` / ``<label> logloss`` (test) for every label that a multi-label run
    (``module.labels``, several) trained, in first-seen order; none without such runs."""
    labels: dict[str, None] = {}
    for result in results:
        trained = config_value(result.get("config") or {}, "module.labels") or []
        if len(trained) > 1:
            labels.update(dict.fromkeys(trained))
    return tuple(
        Column(f"{label} {name}", f"metrics/test/{label}/{metric}", "{:.4f}", True)
        for label in labels
        for name, metric in (("AUC", "auc"), ("logloss", "logloss"))
    )


def report_table(
    results: list[dict[str, Any]], by: tuple[str, ...] = (), baseline: str | None = None
) -> pl.DataFrame:
    """One row per (label, dataset), best test AUC first: ``seeds``, mean and ``<header> std``
    (numpy, ddof=1) of ``REPORT_COLUMNS`` and of each trained label's columns
    (``label_columns``), and with a baseline ``p test AUC`` / ``p logloss``."""
    columns = (*REPORT_COLUMNS, *label_columns(results))
    runs = run_frame(unique_runs(results, by), by, columns)
    table = best_first(aggregate_runs(runs, columns))
    if baseline is None:
        return table
    labels = table["model"].unique(maintain_order=True).to_list()
    if baseline not in labels:
        raise ResultsError(f"unknown baseline {baseline!r}; the labels are: {', '.join(labels)}")
    return table.with_columns(
        pl.Series(p_header(h), welch_p_values(runs, table, baseline, h), dtype=pl.Float64)
        for h in TESTED
    )


def pareto_front(table: pl.DataFrame, x: str, y: str = TEST_AUC) -> pl.DataFrame:
    """The groups no group of the same dataset beats: at most its cost ``x`` and at least its
    quality ``y``, one of them strictly. Groups missing either are left out; sorted by ``x``."""
    points = table.filter(pl.col(x).is_finite() & pl.col(y).is_finite())
    rows = points.select(pl.col("dataset"), pl.col(x), pl.col(y)).rows()
    optimal = [
        not any(
            d == dataset and ox <= cx and oy >= cy and (ox < cx or oy > cy) for d, ox, oy in rows
        )
        for dataset, cx, cy in rows
    ]
    return points.filter(pl.Series(optimal, dtype=pl.Boolean)).sort(x, maintain_order=True)


def sweep_value(result: dict[str, Any], key: str) -> Any:
    """The run's value of ``key``: a ``section/key`` path into results.json, or a config key."""
    if "/" in key:
        section, name = key.split("/", 1)
        return result.get(section, {}).get(name)
    return config_value(result.get("config", {}), key)


def _without(result: dict[str, Any], key: str) -> dict[str, Any]:
    """The run as if the swept config key were unset, so its label names the line, not the
    point (``afe.num_fields`` and ``fusion.schedule.name`` are part of run labels)."""
    hidden = _SWEEP_HIDES.get(key, key)
    if "/" in hidden:
        return result
    result = copy.deepcopy(result)
    *parents, leaf = hidden.split(".")
    node = result.get("config", {})
    for parent in parents:
        node = node.get(parent) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(leaf, None)
    return result


def sweep_table(results: list[dict[str, Any]], key: str, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Test AUC and training samples/s, mean and std (ddof=1) over seeds per (line, dataset,
    value of ``key``).

    ``model`` names the line: the run label without the swept key. The ``key`` column is Float64
    for numbers, else an Enum in first-seen order (a categorical axis). Runs without the key are
    left out with a warning; a key no run has is an error.
    """
    pairs = [(r, sweep_value(r, key)) for r in results]
    lacking = [f"{run_label(r, by)} seed={r['seed']}" for r, v in pairs if v is None]
    if len(lacking) == len(results):
        raise ResultsError(f"unknown sweep key {key!r}: no run has it (lacking: {_few(lacking)})")
    if lacking:
        log.warning("sweep %s leaves out %d runs without it: %s", key, len(lacking), _few(lacking))
    kept = [(r, v) for r, v in pairs if v is not None]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for _, v in kept)
    dtype = pl.Float64 if numeric else pl.Enum(list(dict.fromkeys(str(v) for _, v in kept)))
    line_by = tuple(k for k in by if k != key)
    columns = (TEST_AUC, COST)
    runs = pl.DataFrame(
        {
            "model": [run_label(_without(r, key), line_by) for r, _ in kept],
            "dataset": [r["dataset"] for r, _ in kept],
            key: [float(v) if numeric else str(v) for _, v in kept],
            **{c: [result_value(r, _SUMMARY[c].path) for r, _ in kept] for c in columns},
        },
        schema={"model": pl.String, "dataset": pl.String, key: dtype}
        | dict.fromkeys(columns, pl.Float64),
    )
    spread = [_SUMMARY[c]._replace(spread=True) for c in columns]
    table = aggregate_runs(runs, spread, group=(*GROUP, key))
    return table.sort([*GROUP, key], maintain_order=True)


def _few(names: Sequence[str], limit: int = 8) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def display_columns(with_p: bool, base: Sequence[Column] = REPORT_COLUMNS) -> tuple[Column, ...]:
    """``base`` columns with each tested metric's p-value column right after it."""
    columns: list[Column] = []
    for c in base:
        columns.append(c)
        if with_p and c.header in TESTED:
            columns.append(Column(p_header(c.header), None, "{:.3g}", False))
    return tuple(columns)


def report_markdown(
    table: pl.DataFrame, baseline: str | None = None, extra: Sequence[Column] = ()
) -> str:
    """The table (and ``extra`` columns, e.g. ``label_columns``) as GitHub Markdown, with
    footnotes on the spread and the significance test."""
    notes = ["± is the sample standard deviation over seeds (numpy, ddof=1); seeds counts runs."]
    if baseline is not None:
        notes.append(
            f"p: two-sided Welch t-test (scipy.stats.ttest_ind, equal_var=False) of the group's "
            f"per-seed test AUC / logloss against the baseline `{baseline}` on the same dataset; "
            "`-` for the baseline itself and where either side has fewer than 2 seeds."
        )
    base = (*REPORT_COLUMNS, *extra)
    markdown = to_markdown(table, display_columns(baseline is not None, base))
    return markdown + "\n" + "\n".join(f"- {note}" for note in notes) + "\n"


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)


@dataclass(frozen=True)
class Report:
    table: pl.DataFrame
    markdown: str
    files: list[Path]


def write_report(
    roots: Sequence[Path],
    out: Path | None = None,
    by: tuple[str, ...] = (),
    baseline: str | None = None,
    sweeps: Sequence[str] = (),
) -> Report:
    """Everything ``reaction-report`` writes for the runs under ``roots`` (several sweeps of one
    study compare in one table), to ``<root>/report`` for one root. All input is checked before
    the first file is written, so a typo leaves no half report behind."""
    if out is None and len(roots) != 1:
        raise ResultsError(f"{len(roots)} folders given: name the output folder with --out")
    results = unique_runs([run for root in roots for run in require_results(root)], by)
    table = report_table(results, by, baseline)
    sweep_tables = {key: sweep_table(results, key, by) for key in sweeps}
    out = out or roots[0] / "report"
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for name, x in PARETO.items():
        front = pareto_front(table, x)
        if front.height:
            figures.append(plot_pareto(table, front, x, out / name))
        else:
            log.warning("no group has both %s and %s: %s not drawn", x, TEST_AUC, name)
    for key, sweep in sweep_tables.items():
        figures.append(plot_sweep(sweep, key, out / f"sweep_{_slug(key)}.png"))
    markdown = report_markdown(table, baseline, label_columns(results))
    links = "".join(f"\n![{p.stem}]({p.name})\n" for p in figures)
    title = ", ".join(str(root) for root in roots)
    (out / "report.md").write_text(f"# Report: {title}\n\n{markdown}{links}")
    table.write_csv(out / "report.csv")
    return Report(table, markdown, [out / "report.md", out / "report.csv", *figures])
