"""Hydra sweeps: what a trial returns to the sweeper, and where a sweep may run.

``reaction-train --multirun hparams_search=<name>`` (``conf/hparams_search/``) runs trials with
the basic grid sweeper or with Optuna (``hydra-optuna-sweeper``, extra ``sweeps``). Optuna reads
each trial's return value: ``optimized_metrics`` in ``conf/train.yaml`` names the keys of
``results.json`` (its ``metrics`` or ``costs``) to return -- one key gives a float, several a tuple
for a multi-objective search with one ``hydra.sweeper.direction`` each (``optuna_pareto``: val AUC
up, served parameters down).

Sweeps scale out (one trial per device, ``hydra/launcher=slurm``), never up: a multirun on the
local launcher around a multi-process (DDP) trainer is refused by ``check_sweep_launch``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

OPTIMIZED_METRICS = "optimized_metrics"
# Strategies that start one process per device (Lightning's names contain these).
MULTI_PROCESS_STRATEGIES = ("ddp", "fsdp", "deepspeed")
# Launchers that start every trial as its own cluster job (each rank its own task): DDP is safe.
CLUSTER_LAUNCHERS = ("SlurmLauncher",)
SweepValue = float | tuple[float, ...] | None


def optimized_values(results: Mapping[str, Any], names: str | Sequence[str]) -> SweepValue:
    """The ``results.json`` values named by ``optimized_metrics``, in the listed order.

    Keys are looked up in ``results["metrics"]`` (``val/auc``, ``test/logloss``, ...) and then in
    ``results["costs"]`` (``params/total``, ``latency/ms_per_batch``, ...). One name returns a
    float (a single-objective sweeper), several a tuple (Optuna's multi-objective ``directions``),
    none ``None``. A listed key that the run did not produce is an error naming it.
    """
    listed = [names] if isinstance(names, str) else list(names)
    available = {**results.get("costs", {}), **results.get("metrics", {})}
    missing = [name for name in listed if name not in available]
    if missing:
        raise ValueError(
            f"{OPTIMIZED_METRICS}={listed}: the run has no {missing} in results.json "
            f"(metrics and costs: {sorted(available)}); list keys it produces, "
            f"e.g. {OPTIMIZED_METRICS}=[val/auc]"
        )
    values = tuple(float(available[name]) for name in listed)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def sweep_objective(cfg: DictConfig, results: Mapping[str, Any]) -> SweepValue:
    """What ``reaction-train`` returns to a Hydra sweeper: ``cfg.optimized_metrics`` of the run.

    A ``fast_dev_run`` smoke test keeps no checkpoint and hence no best val metric: it returns
    ``None`` (the basic sweeper ignores return values; Optuna would fail the trial).
    """
    if cfg.get("trainer") and cfg.trainer.get("fast_dev_run"):
        return None
    return optimized_values(results, cfg.get(OPTIMIZED_METRICS) or [])


def _hydra_node(cfg: DictConfig, hydra_cfg: DictConfig | None) -> DictConfig | None:
    """The Hydra node to inspect: the given one, the composed ``cfg.hydra``, or the live one."""
    if hydra_cfg is not None:
        return hydra_cfg
    if "hydra" in cfg:  # compose(..., return_hydra_config=True)
        return cfg.hydra
    return HydraConfig.get() if HydraConfig.initialized() else None


def _device_count(devices: Any) -> int | None:
    """Devices a Lightning ``devices`` value asks for; None when it depends on the machine."""
    if isinstance(devices, ListConfig | list | tuple):
        return len(devices)
    if isinstance(devices, int) and not isinstance(devices, bool):
        return None if devices < 0 else devices
    if isinstance(devices, str):
        text = devices.strip()
        if "," in text:  # "0,1": device ids
            return len([d for d in text.split(",") if d.strip()])
        if text.lstrip("-").isdigit():
            return _device_count(int(text))
    return None  # "auto", -1, None: every device found


def _strategy_name(strategy: Any) -> str:
    """A Lightning strategy as a lower-case name (``"ddp"``, ``"auto"``, a ``_target_`` path)."""
    if isinstance(strategy, DictConfig | Mapping):
        return str(strategy.get("_target_", "")).lower()
    return "auto" if strategy is None else str(strategy).lower()


def check_sweep_launch(cfg: DictConfig, hydra_cfg: DictConfig | None = None) -> None:
    """Refuse a Hydra multirun around a multi-process (DDP) trainer on a local launcher.

    Never Hydra multirun inside DDP (STYLE.md, "Multi-GPU and scale"): Lightning's DDP launcher
    re-runs the command line once per extra rank, so under ``--multirun`` every rank would start
    the whole sweep again, and trials would fight over the same devices. Sweeps scale out -- one
    trial per device (``trainer=gpu``), spread over a cluster with ``hydra/launcher=slurm`` --
    and a big single run uses DDP without ``--multirun``. Call it at start-up, before any data
    is read; ``hydra_cfg`` defaults to ``cfg.hydra`` (a composed config) or the running Hydra's.
    """
    node = _hydra_node(cfg, hydra_cfg)
    mode = None if node is None else node.get("mode")
    if getattr(mode, "name", mode) != "MULTIRUN":
        return
    launcher = str(OmegaConf.select(node, "launcher._target_", default="") or "")
    if any(name in launcher for name in CLUSTER_LAUNCHERS):
        return
    trainer = cfg.get("trainer") or {}
    strategy = _strategy_name(trainer.get("strategy"))
    devices = _device_count(trainer.get("devices", 1))
    multi_process = any(name in strategy for name in MULTI_PROCESS_STRATEGIES) and devices != 1
    implicit_ddp = strategy == "auto" and devices is not None and devices > 1
    if not (multi_process or implicit_ddp):
        return
    raise ValueError(
        f"trainer.strategy={trainer.get('strategy')!r} with trainer.devices="
        f"{trainer.get('devices')!r} under Hydra --multirun on the local launcher "
        f"({launcher.rsplit('.', 1)[-1] or 'unknown'}): never run a Hydra multirun inside DDP "
        "(Lightning re-runs the command once per rank, so each rank would restart the sweep). "
        "Sweep one trial per device instead (trainer=gpu, i.e. trainer.devices=1; add "
        "hydra/launcher=slurm to spread trials over a cluster), or train this one configuration "
        "with DDP without --multirun."
    )
