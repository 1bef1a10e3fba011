"""Shared fixtures: composed Hydra configs and small generated datasets (no downloads, CPU only)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

# Tests never talk to W&B servers; individual tests may still choose "offline" to inspect files.
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")

CONF_DIR = Path(__file__).resolve().parents[1] / "src" / "reaction" / "conf"
SMALL_ROWS = 30_000


def compose_train(overrides: list[str], output_dir: Path, data_dir: Path) -> DictConfig:
    """Compose ``conf/train.yaml`` as ``reaction-train`` would, with run/data dirs in tmp."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"paths.data_dir={data_dir}", f"paths.log_dir={output_dir}", *overrides],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


@pytest.fixture(autouse=True)
def _denormals_back_on() -> Iterator[None]:
    """``train()`` flushes denormal floats process-wide (a CPU speed fix for training); a test
    that trains in-process must not leave that on for the next one -- hypothesis, for one,
    refuses to draw floats without subnormals (the suite passed only in file order)."""
    yield
    torch.set_flush_denormal(False)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data/cache folder for the whole session, so each dataset is generated once."""
    return tmp_path_factory.mktemp("data")


def small_run_overrides(rows: int = SMALL_ROWS) -> list[str]:
    """A short CPU run on small synthetic data without loggers or progress bar."""
    return [
        f"data.datamodule.raw_source.config.num_rows={rows}",
        "logger=none",
        "trainer.max_epochs=1",
        "~callbacks.progress_bar",
    ]


@pytest.fixture
def train_cfg(data_dir: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Factory: a small-data training config; extra overrides come last and win."""

    def make(*overrides: str, rows: int = SMALL_ROWS) -> DictConfig:
        return compose_train([*small_run_overrides(rows), *overrides], tmp_path / "run", data_dir)

    return make
