"""The demo table is built from every results.json below a folder."""

import json
from pathlib import Path

from rich.console import Console

from reaction.summary import load_results, results_table


def test_table_lists_each_run_with_its_numbers(tmp_path: Path) -> None:
    for i, (model, auc) in enumerate([("lr", 0.7512), ("dcnv2", 0.7931)]):
        run = tmp_path / f"{i}_{model}"
        run.mkdir()
        payload = {
            "model": model,
            "dataset": "synthetic",
            "seed": 0,
            "metrics": {"test/auc": auc, "test/logloss": 0.45},
            "costs": {"params/total": 1234567.0},
            "data": {"bayes_auc": 0.8003},
        }
        (run / "results.json").write_text(json.dumps(payload))
    results = load_results(tmp_path)
    assert [r["model"] for r in results] == ["lr", "dcnv2"]
    console = Console(width=200, record=True)
    console.print(results_table(results))
    text = console.export_text()
    assert "0.7512" in text and "0.7931" in text and "1,234,567" in text and "0.8003" in text
