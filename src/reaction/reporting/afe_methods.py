"""The ``afe_methods`` study: each selector's plan against the planted truth, test AUC vs. k.

``reaction-report outputs/afe_methods --afe-methods 12`` reads every ``results.json`` below the
folder (the k-sweep and, in any subfolder, the all-fields runs without AFE) and writes
``methods.md`` (both tables), ``methods_auc.csv``, ``methods_truth.csv`` and ``methods.png`` (test
AUC vs. fields kept, one line per method) into the report folder. On the synthetic data the truth
table scores the plans at ``K`` fields: planted informative fields found (of all of them, and of the
k strongest), noise fields kept, redundant copies kept beside their source, selection seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from reaction.data.synthetic_truth import INFORMATIVE, NOISE, REDUNDANT, GroundTruth  # noqa: E402
from reaction.metrics import keys  # noqa: E402
from reaction.reporting.summary import require_results  # noqa: E402

ALL_FIELDS = "all fields"


def run_rows(results: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per run: method, fields asked for (all: every field), the plan, test AUC."""
    rows = []
    for r in results:
        afe = r.get("afe")
        rows.append(
            {
                "method": afe["variant"] if afe else ALL_FIELDS,
                "k": len(afe["fields"]) if afe else r["data"][keys.NUM_FIELDS],
                "fields": afe["fields"] if afe else [],
                "test_auc": r["metrics"][keys.TEST_AUC],
                "seed": r["seed"],
                "select_s": r["costs"].get(keys.AFE_FIT_SECONDS),
            }
        )
    return pl.DataFrame(rows)


def truth_row(fields: list[str], truth: GroundTruth, k: int) -> dict[str, int]:
    """Planted-truth counts of one plan."""
    chosen = set(fields)
    informative = truth.names(INFORMATIVE)
    strongest = sorted(informative, key=lambda f: -truth.field(f).effect_var["click"])[:k]
    copies = [c for c in truth.names(REDUNDANT) if {c, truth.field(c).source} <= chosen]
    return {
        "informative": len(chosen & set(informative)),
        "strongest": len(chosen & set(strongest)),
        "noise": len(chosen & set(truth.names(NOISE))),
        "copies": len(copies),
    }


def truth_table(runs: pl.DataFrame, truth: GroundTruth, k: int) -> pl.DataFrame:
    """Mean planted-truth counts and selection seconds per method, plans of ``k`` fields."""
    at_k = runs.filter(pl.col("k") == k)
    counts = pl.DataFrame([truth_row(f, truth, k) for f in at_k["fields"]])
    return (
        pl.concat([at_k.select("method", "select_s", "test_auc"), counts], how="horizontal")
        .group_by("method")
        .agg(pl.all().mean(), pl.len().alias("runs"))
        .sort("strongest", "test_auc", descending=True)
    )


def auc_table(runs: pl.DataFrame) -> pl.DataFrame:
    """Mean (std over seeds) test AUC per method and fields kept."""
    return (
        runs.group_by("method", "k")
        .agg(
            pl.col("test_auc").mean().alias("test_auc"),
            pl.col("test_auc").std().alias("std"),
            pl.len().alias("runs"),
        )
        .sort("method", "k")
    )


def plot_methods(table: pl.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    for i, method in enumerate(sorted(set(table["method"]) - {ALL_FIELDS})):
        part = table.filter(pl.col("method") == method)
        paper = method == "paper"
        ax.plot(
            part["k"], part["test_auc"], "o-" if paper else ".--", color=plt.cm.tab20(i),
            label="AFE (paper)" if paper else method, lw=2 if paper else 1,
        )  # fmt: skip
    full = table.filter(pl.col("method") == ALL_FIELDS)
    if full.height:
        ax.axhline(full["test_auc"][0], color="grey", ls=":", label=f"{ALL_FIELDS}")
    ax.set_xlabel("fields kept (k)")
    ax.set_ylabel("test AUC (DNN)")
    ax.set_title("Field selectors: test AUC vs. k")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def markdown(table: pl.DataFrame, floats: dict[str, str]) -> str:
    """A markdown table; ``floats`` maps a column to its format."""
    lines = ["| " + " | ".join(table.columns) + " |", "|---" * len(table.columns) + "|"]
    for row in table.iter_rows(named=True):
        cells = [
            "-" if v is None else (format(v, floats[c]) if c in floats else str(v))
            for c, v in row.items()
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def dataset_truth(results: list[dict[str, Any]]) -> GroundTruth | None:
    """The planted truth of the runs' synthetic data (None for other data)."""
    synthetic = [r for r in results if r.get("dataset") == "synthetic"]
    if not synthetic:
        return None
    return instantiate(synthetic[0]["config"]["data"]["datamodule"]["raw_source"]).truth


def write_methods_report(runs_root: Path, out: Path, k: int = 12) -> str:
    """``methods.md``, ``methods_auc.csv``, ``methods_truth.csv`` (synthetic data: the planted
    truth at plan size ``k``) and ``methods.png`` in ``out``; returns the markdown."""
    results = require_results(runs_root)
    runs = run_rows(results)
    aucs = auc_table(runs)
    out.mkdir(parents=True, exist_ok=True)
    text = "## test AUC vs. k\n\n" + markdown(aucs, {"test_auc": ".4f", "std": ".4f"})
    aucs.write_csv(out / "methods_auc.csv")
    truth = dataset_truth(results)
    if truth is not None:
        table = truth_table(runs, truth, k)
        table.write_csv(out / "methods_truth.csv")
        fmt = {c: ".1f" for c in ("informative", "strongest", "noise", "copies", "select_s")}
        text += f"\n## planted truth at k={k}\n\n" + markdown(table, fmt | {"test_auc": ".4f"})
    (out / "methods.md").write_text(text)
    plot_methods(aucs, out / "methods.png")
    return text
