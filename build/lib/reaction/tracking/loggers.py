"""Pushing a run's config and final numbers into whichever experiment loggers are configured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import Logger, WandbLogger

from reaction.metrics import keys
from reaction.runs.labels import fusion_name, run_label

# W&B summary only: results.json's val/auc already is the best (tested) checkpoint's.
BEST_VAL_AUC = "best/val_auc"


class ReactionWandbLogger(WandbLogger):
    """Lightning's ``WandbLogger`` named, tagged and typed from the run's choices
    (``conf/logger/wandb.yaml``), so the runs of a sweep read alike in a dashboard.

    ``afe`` / ``fusion`` are None for runs without them (``reaction-analyze``, whose ``model`` is
    its mode). The class name ends in ``WandbLogger``: ``reaction-analyze`` retypes such loggers.
    """

    def __init__(
        self,
        *,
        project: str,
        group: str,
        save_dir: str,
        model: str,
        dataset: str,
        seed: int,
        afe: Mapping[str, Any] | None = None,
        fusion: Mapping[str, Any] | None = None,
        towers: int | None = None,
        name: str | None = None,
        job_type: str | None = None,
        log_model: bool = False,
    ) -> None:
        choices = {"model": model, "dataset": dataset, "seed": seed, "afe": afe, "fusion": fusion}
        super().__init__(
            project=project,
            group=group,
            save_dir=save_dir,
            name=name or run_name(**choices, towers=towers),
            job_type=job_type or _job_type(),
            tags=run_tags(**choices),
            log_model=log_model,
        )


def run_name(
    *,
    model: str,
    dataset: str,
    seed: int,
    afe: Mapping[str, Any] | None,
    fusion: Mapping[str, Any] | None,
    towers: int | None,
) -> str:
    """``summary.run_label`` of the run-to-be plus ``-s<seed>``: the summary table's row name
    (``<model>-<dataset>-s<seed>`` for runs without AFE and fusion choices)."""
    if afe is None or fusion is None:
        return f"{model}-{dataset}-s{seed}"
    result = {
        "model": model,
        "afe": None if afe["variant"] == "none" else {"variant": afe["variant"]},
        "config": {"afe": afe, "fusion": fusion},
    }
    if towers is not None:  # a model with towers (model=reaction): run_label adds its fusion
        result["config"]["model"] = {"net": {"num_towers": towers}}
    return f"{run_label(result)}-s{seed}"


def run_tags(
    *,
    model: str,
    dataset: str,
    seed: int,
    afe: Mapping[str, Any] | None,
    fusion: Mapping[str, Any] | None,
) -> list[str]:
    """``key:value`` tags to filter a dashboard by; fusion is DTF's schedule, else its kind."""
    tags = [f"data:{dataset}", f"model:{model}"]
    if afe is not None:
        tags.append(f"afe:{afe['variant']}")
    if fusion is not None:
        tags.append(f"fusion:{fusion_name(fusion)}")
    return [*tags, f"seed:{seed}"]


def _job_type() -> str:
    """``sweep`` for a job of a Hydra ``--multirun``, else ``train``."""
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    return "sweep" if multirun else "train"


def log_config(loggers: list[Logger], config: dict[str, Any], fingerprints: dict[str, str]) -> None:
    """The resolved Hydra config plus data/artifact content hashes, so a run names its inputs."""
    for logger in loggers:
        logger.log_hyperparams({**config, "fingerprints": fingerprints})


def log_final(loggers: list[Logger], numbers: dict[str, float]) -> None:
    """Final metrics and costs: as metrics everywhere, and as W&B summary keys for dashboards
    (plus ``best/val_auc``, so no dashboard mistakes it for the last epoch's ``val/auc``)."""
    for logger in loggers:
        logger.log_metrics(numbers)
        if isinstance(logger, WandbLogger):
            best = {BEST_VAL_AUC: numbers[keys.VAL_AUC]} if keys.VAL_AUC in numbers else {}
            logger.experiment.summary.update({**numbers, **best})
        logger.save()


def finish(loggers: list[Logger]) -> None:
    """Always close W&B, or the next run in the same process (multirun, tests) reuses it."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.finish()
