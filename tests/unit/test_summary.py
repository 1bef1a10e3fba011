"""The comparison table: every results.json below a folder, grouped by model over seeds."""

import json
import statistics
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from reaction.cli import report as report_cli
from reaction.reporting.summary import aggregate, load_results, results_table, to_markdown

RUNS = [("lr", 0, 0.7512), ("dcnv2", 0, 0.7931), ("dcnv2", 1, 0.7911), ("dcnv2", 2, 0.7925)]


def _write_runs(root: Path) -> None:
    for i, (model, seed, auc) in enumerate(RUNS):
        run = root / f"{i}_{model}_{seed}"
        run.mkdir()
        payload = {
            "model": model,
            "dataset": "synthetic",
            "seed": seed,
            "metrics": {"test/auc": auc, "test/logloss": 0.45},
            "costs": {"params/total": 1234567.0 if model == "dcnv2" else 17.0},
            "data": {"bayes_auc": 0.8003},
        }
        (run / "results.json").write_text(json.dumps(payload))


def test_runs_are_grouped_by_model_with_mean_and_std_over_seeds(tmp_path: Path) -> None:
    _write_runs(tmp_path)
    table = aggregate(load_results(tmp_path))
    assert table["model"].to_list() == ["dcnv2", "lr"]  # best mean test AUC first
    dcn = table.row(0, named=True)
    aucs = [auc for model, _, auc in RUNS if model == "dcnv2"]
    assert dcn["seeds"] == 3
    assert dcn["test AUC"] == pytest.approx(statistics.mean(aucs), abs=1e-12)
    assert dcn["test AUC std"] == pytest.approx(statistics.stdev(aucs), abs=1e-12)
    assert table.row(1, named=True)["test AUC std"] is None  # one seed: no spread
    assert dcn["ms/4096"] is None  # missing keys stay missing


def test_terminal_and_markdown_tables_show_the_numbers(tmp_path: Path) -> None:
    _write_runs(tmp_path)
    table = aggregate(load_results(tmp_path))
    console = Console(width=250, record=True)
    console.print(results_table(table))
    text = console.export_text()
    assert "0.7922 ± 0.0010" in text and "1,234,567" in text and "0.8003" in text
    markdown = to_markdown(table).splitlines()
    assert markdown[0].startswith("| model | dataset | seeds | test AUC |")
    assert markdown[2].startswith("| dcnv2 | synthetic | 3 | 0.7922 ± 0.0010 |")
    assert "| lr | synthetic | 1 | 0.7512 |" in markdown[3]


def test_cli_prints_the_table_and_writes_markdown_and_csv(tmp_path: Path, capsys) -> None:
    _write_runs(tmp_path)
    report_cli.main([str(tmp_path)])
    printed = capsys.readouterr().out
    assert "dcnv2" in printed and "0.7922 ±" in printed and "0.7512" in printed
    assert "| dcnv2 | synthetic | 3 |" in (tmp_path / "report" / "report.md").read_text()
    csv = pl.read_csv(tmp_path / "report" / "report.csv")
    assert csv["model"].to_list() == ["dcnv2", "lr"] and csv["seeds"].to_list() == [3, 1]


def test_cli_fails_clearly_without_results(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no results.json found under"):
        report_cli.main([str(tmp_path)])


def test_labels_name_afe_fusion_and_extra_config_keys() -> None:
    from reaction.runs.labels import run_label

    afe_run = {
        "model": "dnn",
        "afe": {"variant": "paper"},
        "metrics": {},
        "config": {"afe": {"variant": "paper", "num_fields": 8, "mi_threshold": 0.001}},
    }
    assert run_label(afe_run) == "dnn+afe:paper/8"
    assert run_label(afe_run, ("afe.mi_threshold",)) == "dnn+afe:paper/8 afe.mi_threshold=0.001"
    towers = {
        "model": "reaction",
        "metrics": {"test/tower0/auc": 0.7},
        "config": {
            "afe": {"variant": "none"},
            "fusion": {"kind": "dtf", "towers": 2, "schedule": {"name": "cosine"}},
        },
    }
    assert run_label(towers, ("afe.mi_threshold",)) == "reaction+fusion:cosinex2"
