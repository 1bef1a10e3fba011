"""Start-up checks of the ``data`` group: loader sizes, the bad-row policy, and that a file
dataset's input exists (nothing is opened or read)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from reaction.config.values import int_at_least
from reaction.data.formats.bad_rows import POLICIES

# CTRDataModule's / ParquetBatchStream's arguments, by config key.
LOADER_MINIMUMS = {
    "batch_size": 1,
    "eval_batch_size": 1,
    "num_workers": 0,
    "shuffle_buffer_row_groups": 1,
}


def loader_problems(settings: Mapping[str, Any]) -> list[str]:
    """The loader sizes among ``settings`` below their minimum, each as
    ``data.datamodule.<key>=<value> (allowed: ...)``: checked at start-up and by the loader
    classes themselves, one rule for both."""
    return [
        problem
        for key, low in LOADER_MINIMUMS.items()
        if key in settings
        for problem in int_at_least(f"data.datamodule.{key}", settings[key], low)
    ]


def data_problems(cfg: DictConfig) -> list[str]:
    """The loader's sizes and, for file datasets, that the input exists (nothing is opened)."""
    data = cfg.data
    module = data.get("datamodule") or {}
    problems = loader_problems(module)
    if "on_bad_rows" in data and data.on_bad_rows not in POLICIES:
        problems.append(f"data.on_bad_rows={data.on_bad_rows!r} (allowed: {', '.join(POLICIES)})")
    if "path" in data and not OmegaConf.is_missing(data, "path") and not Path(data.path).exists():
        problems.append(f"data.path={data.path!r}: no such file or folder (see docs/DATASETS.md)")
    return problems
