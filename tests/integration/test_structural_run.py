"""End to end: train a small DNN, reopen its run directory, write the structural report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from reaction.cli.train import train
from reaction.info.structural import (
    NEURON_PLOT,
    PRUNING_PLOT,
    REPORT_FILE,
    StructuralConfig,
)
from reaction.metrics import keys
from reaction.runs.load import load_run
from reaction.runs.structural import structural_report_for_run


def test_structural_report_of_a_trained_run(train_cfg, tmp_path: Path) -> None:
    # A smaller batch gives one epoch enough steps to learn real structure: an undertrained net
    # still carries init noise that magnitude pruning removes, so its AUC can *rise* when pruned.
    cfg = train_cfg("model=dnn", "model.net.hidden_units=[64,64]", "data.datamodule.batch_size=256")
    results = train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    out = tmp_path / "structural"
    config = StructuralConfig(sample_rows=1000)  # max_val_rows=None: the whole val split

    report = structural_report_for_run(run_dir, out, config)

    assert json.loads((out / REPORT_FILE).read_text()) == report
    assert (out / PRUNING_PLOT).stat().st_size > 0 and (out / NEURON_PLOT).stat().st_size > 0
    curve = report["pruning"]
    assert curve["fractions"][-1] == 0.95 and curve["rows"] == results["data"][keys.ROWS_VAL]
    # Same rows, weights and metric as training's validation of the best checkpoint.
    assert abs(curve["auc"][0] - results["metrics"][keys.VAL_AUC]) < 1e-6
    assert curve["auc"][-1] < curve["auc"][0]
    assert (
        report["run"]["checkpoint"].endswith(".ckpt") and "last" not in report["run"]["checkpoint"]
    )
    assert report["neuron_summary"]["count"] == 64 + 64 == len(report["neurons"])
    drops = [n["auc_drop"] for n in report["neurons"]]
    assert drops == sorted(drops, reverse=True)

    last = load_run(run_dir, checkpoint="last")
    assert last.checkpoint.name == "last.ckpt" and not last.net.training
    batch = next(iter(last.datamodule.val_dataloader()))
    assert torch.isfinite(last.net(batch.features)).all()

    # The same report through the command line: reaction-analyze mode=structural.
    cli_dir = tmp_path / "cli"
    command = [
        sys.executable,
        "-m",
        "reaction.cli.analyze",
        "mode=structural",
        f"structural.run_dir={run_dir}",
        "structural.config.sample_rows=1000",
        "logger=csv",
        f"hydra.run.dir={cli_dir}",
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    index = json.loads((cli_dir / "analysis.json").read_text())
    assert index["mode"] == "structural" and index["dataset"] == "synthetic"
    assert index["summary"]["analyze/auc_unpruned"] == curve["auc"][0]
    assert json.loads((cli_dir / REPORT_FILE).read_text())["pruning"]["auc"] == curve["auc"]
    assert (cli_dir / PRUNING_PLOT).is_file()
