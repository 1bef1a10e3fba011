"""The field-count curve: test AUC vs. fields kept, in AFE order vs. a random order.

``reaction-report outputs/afe_curve --afe-curve --all-fields outputs/afe_compare`` reads the
``results.json`` of ``experiment=afe_curve`` (and, for the all-fields point, the runs without AFE
under ``--all-fields``) and writes ``curve.md``, ``curve.csv`` and ``curve.png`` into the report
folder. The paper's claim, "about half of the fields are redundant", reads off it directly: the AFE
curve reaches the all-fields AUC long before the random one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from reaction.metrics import keys  # noqa: E402
from reaction.reporting.summary import load_results  # noqa: E402

ALL_FIELDS = "all fields"


def curve_points(results: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per run: order (AFE / random / all fields), fields kept, test AUC, seed.

    A run without AFE kept every field: its feature map's count, or (results written before that
    was recorded) the ``afe/fields_before`` of the AFE runs beside it.
    """
    before = [r["costs"].get(keys.AFE_FIELDS_BEFORE) for r in results if r.get("afe")]
    all_fields = int(max(before)) if before else None
    rows = []
    for r in results:
        afe = r.get("afe")
        ranking = r.get("config", {}).get("afe", {}).get("ranking", "greedy")
        order = ALL_FIELDS if not afe else ("random" if ranking == "random" else "AFE")
        fields = len(afe["fields"]) if afe else r["data"].get(keys.NUM_FIELDS, all_fields)
        rows.append(
            {
                "order": order,
                "fields": fields,
                "test_auc": r["metrics"][keys.TEST_AUC],
                "seed": r["seed"],
            }
        )
    return pl.DataFrame(rows)


def summarise(points: pl.DataFrame) -> pl.DataFrame:
    """Mean (and std over seeds) of test AUC per (order, fields)."""
    return (
        points.group_by("order", "fields")
        .agg(
            pl.col("test_auc").mean().alias("test_auc"),
            pl.col("test_auc").std().alias("std"),
            pl.len().alias("runs"),
        )
        .sort("order", "fields")
    )


def plot_curve(table: pl.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for order, style in (("AFE", "o-"), ("random", "s--")):
        part = table.filter(pl.col("order") == order)
        ax.plot(part["fields"], part["test_auc"], style, label=f"{order} order")
    full = table.filter(pl.col("order") == ALL_FIELDS)
    if full.height:
        auc = full["test_auc"][0]
        ax.axhline(auc, color="grey", lw=1, ls=":", label=f"{ALL_FIELDS} ({auc:.4f})")
    ax.set_xlabel("fields kept")
    ax.set_ylabel("test AUC (DNN)")
    ax.set_title("AUC vs. number of fields")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def to_markdown(table: pl.DataFrame) -> str:
    lines = ["| order | fields | test AUC | std | runs |", "|---|---:|---:|---:|---:|"]
    for row in table.iter_rows(named=True):
        std = "-" if row["std"] is None else f"{row['std']:.4f}"
        lines.append(
            f"| {row['order']} | {row['fields']} | {row['test_auc']:.4f} | {std} | {row['runs']} |"
        )
    return "\n".join(lines) + "\n"


def write_curve(runs: Path, all_fields: Path | None, out: Path) -> str:
    """``curve.md``, ``curve.csv`` and ``curve.png`` in ``out`` from the runs under ``runs`` (and
    the runs without AFE under ``all_fields``); returns the markdown table."""
    results = load_results(runs)
    if all_fields:
        results += [r for r in load_results(all_fields) if not r.get("afe")]
    table = summarise(curve_points(results))
    out.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(table)
    (out / "curve.md").write_text(markdown)
    table.write_csv(out / "curve.csv")
    plot_curve(table, out / "curve.png")
    return markdown
