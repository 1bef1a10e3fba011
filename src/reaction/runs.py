"""Reopen a finished ``reaction-train`` run: its config, its data and its trained network.

Analysis, export and serving all start from a run directory rather than from Python objects, so
this is the one place that knows a run's layout: ``results.json`` (resolved config under
``"config"``), ``.hydra/config.yaml`` (written at launch, so present even for a run that died
before its results) and ``checkpoints/`` (best ``epochNN-aucX.XXXX.ckpt`` plus ``last.ckpt``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from reaction.afe import AFEPlan, build_net
from reaction.data.datamodule import CTRDataModule
from reaction.models.reaction import served_module
from reaction.utils.results import RESULTS_FILE

log = logging.getLogger(__name__)

HYDRA_CONFIG = Path(".hydra") / "config.yaml"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
# CTRModule stores the model under ``self.net``; every other state-dict entry is not the model's.
NET_PREFIX = "net."


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
    ``served``: a multi-tower net (REACTION) comes back as its served tower, what is deployed.
    """
    run_dir = Path(run_dir)
    config = load_run_config(run_dir, data_dir=data_dir, cache_dir=cache_dir)
    ckpt_path = resolve_checkpoint(run_dir, checkpoint)
    datamodule: CTRDataModule = instantiate(config.data.datamodule)
    feature_map = datamodule.prepare_and_setup()
    # _partial_: the FeatureMap dataclass must reach the model as is (as in train.py); the AFE
    # plan comes from the checkpoint itself, never refitted.
    factory = instantiate(config.model.net, _partial_=True)
    net = build_net(factory, feature_map, checkpoint_plan(ckpt_path))
    load_net_weights(net, ckpt_path)
    if served:
        net = served_module(net)
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
    run_dir = Path(run_dir)
    results, launch = run_dir / RESULTS_FILE, run_dir / HYDRA_CONFIG
    if results.is_file():
        config = OmegaConf.create(json.loads(results.read_text())["config"])
    elif launch.is_file():
        config = OmegaConf.load(launch)
        config.paths.output_dir = str(run_dir)
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


def resolve_checkpoint(run_dir: str | Path, checkpoint: str | Path = "best") -> Path:
    """``"best"`` / ``"last"`` / a path -> an existing checkpoint file.

    "best" asks ``last.ckpt``'s ModelCheckpoint state for ``best_model_path`` (by file name in
    this run's ``checkpoints/``, for a moved run); without it, the only non-last checkpoint.
    """
    ckpt_dir = Path(run_dir) / CHECKPOINT_DIR
    if checkpoint == "last":
        path = ckpt_dir / LAST_CHECKPOINT
    elif checkpoint == "best":
        path = _best_checkpoint(ckpt_dir)
    else:
        path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint!r}: no file at {path}")
    return path


def _best_checkpoint(ckpt_dir: Path) -> Path:
    last = ckpt_dir / LAST_CHECKPOINT
    if last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=False)
        for callback in state.get("callbacks", {}).values():
            recorded = callback.get("best_model_path") if isinstance(callback, dict) else None
            if recorded:
                # The run's own copy first: a moved or copied run still records the old path.
                local = ckpt_dir / Path(recorded).name
                return local if local.is_file() else Path(recorded)
    others = sorted(p for p in ckpt_dir.glob("*.ckpt") if p.name != LAST_CHECKPOINT)
    if not others:
        raise FileNotFoundError(f"{ckpt_dir}: no checkpoint (*.ckpt) to load")
    if len(others) > 1:
        names = [p.name for p in others]
        raise FileNotFoundError(f"{ckpt_dir}: cannot tell the best checkpoint among {names}")
    return others[0]


def checkpoint_plan(checkpoint: str | Path) -> AFEPlan | None:
    """The AFE plan a checkpoint's net was trained with (None: the model saw every field)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    extra = state.get(f"{NET_PREFIX}_extra_state")
    return AFEPlan.from_dict(extra["afe_plan"]) if extra else None


def load_net_weights(net: nn.Module, checkpoint: str | Path) -> None:
    """Load the ``net.*`` entries of a Lightning checkpoint into ``net`` (strictly)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    weights = {k[len(NET_PREFIX) :]: v for k, v in state.items() if k.startswith(NET_PREFIX)}
    if not weights:
        raise ValueError(f"{checkpoint}: no '{NET_PREFIX}*' entries in its state_dict")
    net.load_state_dict(weights)
