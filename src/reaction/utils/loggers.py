"""Pushing a run's config and final numbers into whichever experiment loggers are configured."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger, WandbLogger


def log_config(loggers: list[Logger], config: dict[str, Any], fingerprints: dict[str, str]) -> None:
    """The resolved Hydra config plus data/artifact content hashes, so a run names its inputs."""
    for logger in loggers:
        logger.log_hyperparams({**config, "fingerprints": fingerprints})


def log_final(loggers: list[Logger], numbers: dict[str, float]) -> None:
    """Final metrics and costs: as metrics everywhere, and as W&B summary keys for dashboards."""
    for logger in loggers:
        logger.log_metrics(numbers)
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(numbers)
        logger.save()


def finish(loggers: list[Logger]) -> None:
    """Always close W&B, or the next run in the same process (multirun, tests) reuses it."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.finish()
