"""The figures of ``reaction-report``: Pareto fronts (AUC vs. a cost) and sweeps (AUC vs. a key).

Figures are drawn on the Agg canvas directly (no pyplot), so importing this module never switches
a notebook's backend and no figure stays open after it is saved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

AUC = "test AUC"
COST = "train samples/s"  # a sweep's training cost, drawn beside its AUC
XLABELS = {"params": "parameters (total)", "ms/4096": "CPU latency, ms per batch of 4096"}
DODGE = 0.5  # width a categorical tick's points spread over, one offset per line


def _axes() -> tuple[Figure, Axes]:
    fig = Figure(figsize=(7.5, 4.8))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, ax: Axes, path: Path) -> Path:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _spread(table: pl.DataFrame, column: str) -> np.ndarray | None:
    """Error-bar half widths (0 where a group has one seed); None for a column without spread."""
    std = f"{column} std"
    return table[std].fill_null(0.0).to_numpy() if std in table.columns else None


def plot_pareto(table: pl.DataFrame, front: pl.DataFrame, x: str, path: Path) -> Path:
    """Every group as mean ± std over seeds, the Pareto-optimal ones joined and labelled;
    one colour per dataset, cost on a log axis."""
    fig, ax = _axes()
    for i, dataset in enumerate(table["dataset"].unique(maintain_order=True)):
        color = f"C{i}"
        part = table.filter(
            (pl.col("dataset") == dataset) & (pl.col(x) > 0) & pl.col(AUC).is_finite()
        )
        ax.errorbar(
            part[x],
            part[AUC],
            xerr=_spread(part, x),
            yerr=_spread(part, AUC),
            fmt="o",
            ms=4,
            color=color,
            alpha=0.45,
            capsize=2,
            label=f"{dataset} groups",
        )
        best = front.filter((pl.col("dataset") == dataset) & (pl.col(x) > 0))
        ax.plot(best[x], best[AUC], "*-", ms=11, color=color, label=f"{dataset} Pareto front")
        for label, px, py in best.select("model", x, AUC).iter_rows():
            ax.annotate(label, (px, py), xytext=(5, 5), textcoords="offset points", fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel(XLABELS.get(x, x))
    ax.set_ylabel("test AUC (mean ± std over seeds)")
    ax.set_title(f"test AUC vs. {x}")
    return _save(fig, ax, path)


def plot_sweep(table: pl.DataFrame, key: str, path: Path) -> Path:
    """Test AUC (mean ± std over seeds) against ``key``: lines over a numeric key, points
    side by side per category (an Enum column) otherwise; one series per group."""
    fig, ax = _axes()
    dtype = table.schema[key]
    categories = list(dtype.categories) if isinstance(dtype, pl.Enum) else None
    lines = table.select("model", "dataset").unique(maintain_order=True).rows()
    several = table["dataset"].n_unique() > 1
    for i, (label, dataset) in enumerate(lines):
        part = table.filter((pl.col("model") == label) & (pl.col("dataset") == dataset))
        name = f"{label} ({dataset})" if several else label
        if categories is None:
            xs, fmt = part[key].to_numpy(), "o-"
        else:
            offset = (i - (len(lines) - 1) / 2) * DODGE / len(lines)
            xs, fmt = np.array([categories.index(v) for v in part[key]]) + offset, "o"
        ax.errorbar(xs, part[AUC], yerr=_spread(part, AUC), fmt=fmt, capsize=3, label=name)
    if categories is not None:
        ax.set_xticks(range(len(categories)), categories)
    elif table[key].n_unique() <= 12:
        ax.set_xticks(table[key].unique().sort().to_list())
    _plot_training_cost(ax, table, key, lines, categories)
    ax.set_xlabel(key)
    ax.set_ylabel("test AUC (mean ± std over seeds)")
    ax.set_title(f"test AUC vs. {key}")
    return _save(fig, ax, path)


def _plot_training_cost(
    ax: Axes, table: pl.DataFrame, key: str, lines: list[tuple], categories: list[str] | None
) -> None:
    """Training samples/s on a right-hand log axis (dashed, same colours): a sweep over towers,
    fields or widths trades accuracy against training cost, so both belong on one figure."""
    if COST not in table.columns or table[COST].is_null().all():
        return
    right = ax.twinx()
    for i, (label, dataset) in enumerate(lines):
        part = table.filter((pl.col("model") == label) & (pl.col("dataset") == dataset))
        values = part[key]
        xs = values.to_numpy() if categories is None else [categories.index(v) for v in values]
        right.plot(xs, part[COST], "s--", color=f"C{i}", alpha=0.6, label=f"{label}: {COST}")
    right.set_yscale("log")
    right.set_ylabel(f"{COST} (dashed)")
    right.legend(fontsize=7, loc="lower right")
