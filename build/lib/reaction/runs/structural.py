"""The structural redundancy report (``reaction.info.structural``) of a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reaction.info.structural import REPORT_FILE, StructuralConfig, structural_report
from reaction.runs.load import load_run
from reaction.runs.run_dir import RunDir
from reaction.utils.jsonio import write_json_atomic


def structural_report_for_run(
    run_dir: str | Path,
    out_dir: str | Path,
    config: StructuralConfig,
    checkpoint: str | Path = "best",
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """:func:`structural_report` of a trained run's checkpoint on its validation split.

    The report also records the run, the checkpoint and training's own ``val/auc``: with
    ``max_val_rows=None`` the unpruned AUC reproduces it (the same rows, model and metric).
    """
    run = load_run(run_dir, checkpoint=checkpoint, data_dir=data_dir)
    metrics = (RunDir(run_dir).read_results() or {}).get("metrics", {})
    report = structural_report(run.net, run.datamodule.val_dataloader(), out_dir, config)
    report["run"] = {
        "run_dir": str(run.run_dir),
        "checkpoint": str(run.checkpoint),
        "model": run.config.model.name,
        "training_val_auc": metrics.get("val/auc"),
    }
    write_json_atomic(Path(out_dir) / REPORT_FILE, report)
    return report
