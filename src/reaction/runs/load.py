"""Reopen a finished ``reaction-train`` run: its config, its data and its trained network.

Analysis, export, serving and ``fusion=kd`` teachers all start from a run directory (its layout:
``reaction.runs.run_dir``) rather than from Python objects. Nothing in it is unpickled: the
config is JSON/YAML, checkpoints are read as tensors only (``reaction.runs.checkpoint``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from reaction.afe import build_net
from reaction.data.datamodule import CTRDataModule
from reaction.lit.labels import run_labels
from reaction.models.multilabel import multi_label_net
from reaction.runs.checkpoint import checkpoint_plan, load_net_weights
from reaction.runs.run_dir import RunDir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainedRun:
    """A reopened run: resolved config, ready datamodule, and the net in eval mode on CPU."""

    run_dir: Path
    config: DictConfig
    datamodule: CTRDataModule
    net: nn.Module
    checkpoint: Path


def load_run(
    run_dir: str | Path,
    checkpoint: str | Path = "best",
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    served: bool = True,
) -> TrainedRun:
    """Rebuild ``run_dir``'s datamodule and network and load ``checkpoint`` into the network.

    ``checkpoint``: ``"best"`` (the checkpoint ModelCheckpoint kept for the best val AUC),
    ``"last"``, or a path. ``data_dir``/``cache_dir`` replace the stored (absolute) data and cache
    roots, for runs moved between machines; moving ``data_dir`` moves a cache that lived under it.
    ``served``: a multi-tower net (REACTION) comes back as its served tower, what is deployed;
    a multi-label net as its primary label's served network.
    """
    run_dir = Path(run_dir)
    config = load_run_config(run_dir, data_dir=data_dir, cache_dir=cache_dir)
    ckpt_path = RunDir(run_dir).checkpoint(checkpoint)
    datamodule: CTRDataModule = instantiate(config.data.datamodule)
    feature_map = datamodule.prepare_and_setup()
    # _partial_: the FeatureMap dataclass must reach the model as is (as in train.py); the AFE
    # plan comes from the checkpoint itself, never refitted.
    factory = instantiate(config.model.net, _partial_=True)
    plan = checkpoint_plan(ckpt_path)
    labels = run_labels(config, feature_map)
    net = multi_label_net(lambda: build_net(factory, feature_map, plan), len(labels.names))
    load_net_weights(net, ckpt_path)
    if served:
        net = net.served()
    log.info("loaded %s from %s", config.model.name, ckpt_path)
    return TrainedRun(run_dir, config, datamodule, net.eval(), ckpt_path)


def load_run_config(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> DictConfig:
    """The run's resolved config, from ``results.json`` or else ``.hydra/config.yaml``.

    ``results.json`` is preferred: it is exactly what training resolved. The launch-time YAML
    still holds interpolations; ``hydra:`` ones cannot resolve outside a Hydra app, so
    ``paths.output_dir`` is pinned to ``run_dir`` first (relative paths resolve from the cwd).
    """
    run = RunDir(run_dir)
    results, launch = run.results, run.launch_config
    if results.is_file():
        config = OmegaConf.create(run.read_results()["config"])
    elif launch.is_file():
        config = OmegaConf.load(launch)
        config.paths.output_dir = str(run.path)
        config = OmegaConf.create(OmegaConf.to_container(config, resolve=True))
    else:
        raise FileNotFoundError(f"{run_dir}: no run config, looked for {results} and {launch}")
    assert isinstance(config, DictConfig)
    return _rebase_paths(config, data_dir=data_dir, cache_dir=cache_dir)


def _rebase_paths(
    config: DictConfig, data_dir: str | Path | None, cache_dir: str | Path | None
) -> DictConfig:
    """Swap the stored cache/data roots for new ones in every string of the config.

    The stored config is resolved, so ``paths.data_dir`` has already been copied into every
    path built from it (raw roots, cache roots); prefix replacement reaches all of them.
    The cache is rebased first: it is the more specific root when it lies under the data root.
    """
    moves = [
        (config.paths.get("cache_dir"), cache_dir),
        (config.paths.get("data_dir"), data_dir),
    ]
    container = OmegaConf.to_container(config)
    for old, new in moves:
        if new is not None and old:
            container = _replace_prefix(container, str(old).rstrip("/"), str(new).rstrip("/"))
    return OmegaConf.create(container)


def _replace_prefix(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace_prefix(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_prefix(v, old, new) for v in value]
    if isinstance(value, str) and (value == old or value.startswith(old + "/")):
        return new + value[len(old) :]
    return value
