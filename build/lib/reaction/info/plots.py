"""Figures of the feature redundancy report (matplotlib, Agg backend: files only, no display).

Kept apart from the estimators so that computing measures (AFE, tests) never imports matplotlib.
Every function reads the JSON-ready report of ``reaction.info.redundancy.feature_report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SU_HEATMAP = "su_heatmap.png"
VERDICT_COLOURS = {"informative": "tab:green", "weak": "tab:orange", "noise": "tab:gray"}
REDUNDANT_COLOUR = "tab:purple"


def relevance_plot_name(label: str) -> str:
    return f"relevance_{label}.png"


def retention_plot_name(label: str) -> str:
    return f"retention_{label}.png"


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_su_heatmap(report: dict[str, Any], path: Path) -> Path:
    """Pairwise symmetric uncertainty ``2 I(X_i;X_j) / (H_i + H_j)``; bright = redundant pair."""
    pairs = report["pairs"]
    names = pairs["fields"]
    su = np.array(pairs["su"], dtype=np.float64)
    size = max(5.0, 0.22 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(su, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    sample = pairs["sample"]
    note = f"sample of {sample['rows']:,} rows" if sample["sampled"] else f"{sample['rows']:,} rows"
    ax.set_title(f"{report['dataset']}: symmetric uncertainty ({note})")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def _colour(verdict: str) -> str:
    return VERDICT_COLOURS.get(verdict, REDUNDANT_COLOUR)


def plot_relevance(report: dict[str, Any], label: str, path: Path) -> Path:
    """Relevance ``I(X;Y)/H(Y)`` per field (bars, by verdict) with its null level (black ticks)."""
    entries = sorted(report["fields"], key=lambda e: -e["labels"][label]["relevance"])
    own = [e["labels"][label] for e in entries]
    x = np.arange(len(entries))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.25 * len(entries) + 2), 4.5))
    ax.bar(x, [o["relevance"] for o in own], color=[_colour(o["verdict"]) for o in own])
    ax.scatter(x, [o["null_relevance"] for o in own], marker="_", s=120, c="k", zorder=3)
    ax.set_xticks(x, [e["field"] for e in entries], rotation=90, fontsize=7)
    ax.set_ylabel(f"I(X;{label}) / H({label})")
    ax.set_yscale("symlog", linthresh=1e-5)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in VERDICT_COLOURS.values()]
    handles += [plt.Rectangle((0, 0), 1, 1, color=REDUNDANT_COLOUR)]
    handles += [plt.Line2D([], [], color="k", marker="_", linestyle="", markersize=10)]
    ax.legend(handles, [*VERDICT_COLOURS, "redundant", "null level"], fontsize=7)
    ax.set_title(f"{report['dataset']}: relevance to {label}")
    return _save(fig, path)


def plot_retention(report: dict[str, Any], label: str, path: Path, max_lines: int = 12) -> Path:
    """Share of a field's MI kept vs. values kept (sorted by ``c(x)``), the most relevant fields."""
    entries = [e for e in report["fields"] if e["labels"][label]["verdict"] != "noise"]
    entries.sort(key=lambda e: -e["labels"][label]["relevance"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for e in entries[:max_lines]:
        curve = e["labels"][label]["retention"]
        ax.plot(curve["values"], curve["share"], marker=".", label=e["field"])
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("values kept (most informative first)")
    ax.set_ylabel(f"share of I(X;{label}) kept")
    ax.set_title(f"{report['dataset']}: MI retention, {label}")
    if entries:
        ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def write_plots(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Every figure of the report into ``out_dir``; returns ``{name: path}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"su_heatmap": plot_su_heatmap(report, out / SU_HEATMAP)}
    for label in report["labels"]:
        paths[f"relevance_{label}"] = plot_relevance(
            report, label, out / relevance_plot_name(label)
        )
        paths[f"retention_{label}"] = plot_retention(
            report, label, out / retention_plot_name(label)
        )
    return paths
