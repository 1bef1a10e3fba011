"""The field-count curve: test AUC vs. fields kept, in AFE order vs. a random order.

``python -m reaction.afe.curve outputs/afe_curve --all-fields outputs/afe_compare`` reads the
``results.json`` of ``experiment=afe_curve`` (and, for the all-fields point, the runs without
AFE under ``--all-fields``) and writes ``curve.md``, ``curve.csv`` and ``curve.png`` beside the
runs. The paper's claim, "about half of the fields are redundant", reads off it directly: the AFE
curve reaches the all-fields AUC long before the random one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from reaction.metrics import keys  # noqa: E402
from reaction.summary import load_results  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="the afe_curve multirun folder")
    parser.add_argument("--all-fields", type=Path, help="a folder with runs without AFE")
    args = parser.parse_args()
    results = load_results(args.runs)
    if args.all_fields:
        results += [r for r in load_results(args.all_fields) if not r.get("afe")]
    if not results:
        raise SystemExit(f"no results.json under {args.runs}")
    table = summarise(curve_points(results))
    (args.runs / "curve.md").write_text(to_markdown(table))
    table.write_csv(args.runs / "curve.csv")
    plot_curve(table, args.runs / "curve.png")
    print(to_markdown(table))  # noqa: T201 - the command's output


if __name__ == "__main__":
    main()
