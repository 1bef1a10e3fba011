"""W&B artifacts of a finished run: the AFE plan it fitted and the model it served."""

from __future__ import annotations

from typing import Any

import wandb
from lightning.pytorch.loggers import Logger, WandbLogger

from reaction.runs.run_dir import RunDir

AFE_PLAN_TYPE = "afe_plan"
MODEL_TYPE = "model"


def log_artifacts(
    loggers: list[Logger], run_dir: RunDir, checkpoint: str | None, results: dict[str, Any]
) -> None:
    """Call once, on rank zero, after ``results.json`` is written: ``afe_plan-<run id>``
    (``checkpoints/afe_plan.json``, when the run has AFE) and ``model-<run id>`` (the tested
    ``checkpoint`` and ``results.json``), so a dashboard row links to what the run served.

    Offline runs stage copies under ``WANDB_DATA_DIR`` (``~/.local/share/wandb``); ``wandb sync``
    uploads them with the run.
    """
    for logger in loggers:
        if not isinstance(logger, WandbLogger):
            continue
        run = logger.experiment
        if results.get("afe") is not None:
            plan = wandb.Artifact(f"afe_plan-{run.id}", type=AFE_PLAN_TYPE, metadata=results["afe"])
            plan.add_file(str(run_dir.plan))
            run.log_artifact(plan)
        metadata = {"metrics": results["metrics"], "costs": results["costs"]}
        model = wandb.Artifact(f"model-{run.id}", type=MODEL_TYPE, metadata=metadata)
        if checkpoint:  # none under fast_dev_run, which tests the in-memory weights
            model.add_file(checkpoint)
        model.add_file(str(run_dir.results))
        run.log_artifact(model)
