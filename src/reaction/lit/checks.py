"""Start-up checks of what Lightning is given: optimizer settings (``module``), the trainer, and
the callbacks' monitored metrics and checkpoints. Each names the key, the value and what is
allowed; ``reaction.cli.validation`` asks them all before any data is read."""

from __future__ import annotations

import inspect
from typing import Any, get_args

from lightning.fabric.plugins.precision.precision import (
    _PRECISION_INPUT_INT,
    _PRECISION_INPUT_STR,
    _PRECISION_INPUT_STR_ALIAS,
)
from omegaconf import DictConfig, OmegaConf

from reaction.config.structure import model_towers, safe_object
from reaction.config.values import int_at_least, is_int, is_number
from reaction.fusion.config import DISTILL_KINDS
from reaction.lit.ctr_module import CTRModule, module_problems
from reaction.lit.labels import label_key, label_problems
from reaction.metrics import keys

MONITORS = (keys.VAL_AUC, keys.VAL_LOGLOSS, keys.TRAIN_LOSS)  # what CTRModule logs
# Lightning's precision inputs; the ints are the string aliases as the command line parses them.
_PRECISION_NAMES = (*get_args(_PRECISION_INPUT_STR), *get_args(_PRECISION_INPUT_STR_ALIAS))
_PRECISIONS = (*_PRECISION_NAMES, *get_args(_PRECISION_INPUT_INT))


def module_config_problems(cfg: DictConfig) -> list[str]:
    node = cfg.get("module") or {}
    names = ("lr", "weight_decay", "embedding_lr", "embedding_weight_decay", "plateau_factor")
    params = inspect.signature(CTRModule).parameters
    values = {k: node.get(k, params[k].default) for k in names}
    problems = [
        f"module.{k}={v!r} (allowed: a number{' or null' if k == 'plateau_factor' else ''})"
        for k, v in values.items()
        if not (is_number(v) or (k == "plateau_factor" and v is None))
    ]
    if problems:
        return problems
    problems = module_problems(**values)
    thresholds = node.get("auc_thresholds")
    if thresholds is not None and not (is_int(thresholds) and thresholds >= 2):
        problems.append(f"module.auc_thresholds={thresholds!r} (allowed: null or an int >= 2)")
    return problems + int_at_least("module.plateau_patience", node.get("plateau_patience", 0), 0)


def label_config_problems(cfg: DictConfig) -> list[str]:
    """``module.labels`` / ``label_weights`` / ``monitor_label`` (names are checked against
    the dataset's labels once its feature map is known), and a KD teacher with several labels:
    a trained teacher predicts one label, so distilling it into every label would be wrong."""
    node = cfg.get("module") or {}
    labels = node.get("labels")
    problems = label_problems(labels, node.get("label_weights"), node.get("monitor_label"))
    kind = (cfg.get("fusion") or {}).get("kind")
    if kind in DISTILL_KINDS and labels is not None and len(labels) > 1:
        problems.append(
            f"fusion.kind={kind!r} with module.labels={list(labels)}: the teacher predicts one "
            "label (allowed: one label, or another fusion)"
        )
    return problems


def trainer_problems(cfg: DictConfig) -> list[str]:
    trainer = cfg.get("trainer") or {}
    epochs, clip = trainer.get("max_epochs"), trainer.get("gradient_clip_val")
    problems = []
    if not (epochs is None or epochs == -1 or (is_int(epochs) and epochs >= 1)):
        problems.append(f"trainer.max_epochs={epochs!r} (allowed: an int >= 1, -1 or null)")
    if not (clip is None or (is_number(clip) and clip >= 0)):
        problems.append(f"trainer.gradient_clip_val={clip!r} (allowed: null or a number >= 0)")
    precision = trainer.get("precision")
    if precision is not None and precision not in _PRECISIONS:
        allowed = ", ".join(_PRECISION_NAMES)
        problems.append(f"trainer.precision={precision!r} (allowed: {allowed})")
    problems += _gpu_problems(trainer.get("accelerator"), trainer.get("devices", "auto"))
    if trainer.get("fast_dev_run") and cfg.get("test_ckpt") == "best":
        problems.append(
            f"test_ckpt='best' with trainer.fast_dev_run={trainer.fast_dev_run!r}: a fast dev run "
            "keeps no best checkpoint (allowed: test_ckpt=null or last; or use debug=fast_dev_run)"
        )
    return problems


def _gpu_problems(accelerator: Any, devices: Any) -> list[str]:
    if accelerator not in ("gpu", "cuda"):
        return []
    import torch

    available = torch.cuda.device_count()
    wanted = devices if is_int(devices) and devices > 0 else 1
    if OmegaConf.is_list(devices) or isinstance(devices, list):
        wanted = len(devices)
    if available >= wanted:
        return []
    return [
        f"trainer.accelerator={accelerator!r} with trainer.devices={devices!r}: this machine has "
        f"{available} CUDA device(s) (use trainer=cpu, or fewer devices)"
    ]


def _callback_nodes(cfg: DictConfig) -> list[tuple[str, DictConfig, Any]]:
    """``(name, node, class)`` of every configured callback, in ``train``'s order."""
    return [
        (name, node, safe_object(node._target_))
        for name, node in (cfg.get("callbacks") or {}).items()
        if isinstance(node, DictConfig) and "_target_" in node
    ]


def monitor_problems(cfg: DictConfig) -> list[str]:
    """Monitored metrics are logged, and optimised the right way."""
    problems = []
    multi_tower = model_towers(cfg) > 1
    labels = (cfg.get("module") or {}).get("labels")
    allowed = sorted(MONITORS) + _label_monitors(labels)
    for name, node, _ in _callback_nodes(cfg):
        monitor, mode = node.get("monitor"), node.get("mode")
        if monitor is None:
            continue
        if monitor not in allowed and not (multi_tower and _tower_metric(monitor)):
            problems.append(f"callbacks.{name}.monitor={monitor!r} (allowed: {allowed})")
        elif mode is not None and mode != _direction(monitor):
            problems.append(
                f"callbacks.{name}.mode={mode!r} with monitor={monitor!r} (allowed: "
                f"{_direction(monitor)!r}; the other way keeps the worst epoch)"
            )
    return problems


def checkpoint_problems(cfg: DictConfig) -> list[str]:
    """``test_ckpt=best`` reads Lightning's checkpoint callback (its first ModelCheckpoint): it
    must keep a best model. Lightning refuses ModelCheckpoints with checkpointing disabled."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    names = [n for n, _, cls in _callback_nodes(cfg) if _subclass(cls, ModelCheckpoint)]
    problems = []
    first = cfg.callbacks[names[0]] if names else None
    if cfg.get("test_ckpt") == "best" and (first is None or first.get("save_top_k", 1) == 0):
        got = f"callbacks.{names[0]}.save_top_k=0" if names else "no ModelCheckpoint callback"
        problems.append(
            f"test_ckpt='best' needs a first ModelCheckpoint that keeps a best model, got {got} "
            "(allowed: test_ckpt=last or null)"
        )
    if names and (cfg.get("trainer") or {}).get("enable_checkpointing", True) is False:
        problems.append(
            f"trainer.enable_checkpointing=False with callbacks.{names[0]}: Lightning refuses "
            f"both (drop the callbacks: {' '.join(f'~callbacks.{n}' for n in names)})"
        )
    return problems


def _subclass(cls: Any, base: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, base)


def _tower_metric(monitor: str) -> bool:
    """``val/tower<k>/auc`` or ``val/tower<k>/logloss``: logged by multi-tower models."""
    stage, tower, metric = [*monitor.split("/", 2), "", ""][:3]
    return stage == "val" and tower.startswith("tower") and metric in ("auc", "logloss")


def _label_monitors(labels: Any) -> list[str]:
    """``val/<label>/auc|logloss`` of a multi-label run (``module.labels``)."""
    if not (OmegaConf.is_list(labels) or isinstance(labels, list)) or len(labels) < 2:
        return []
    return [label_key("val", str(n), m) for n in labels for m in ("auc", "logloss")]


def _direction(monitor: str) -> str:
    return "max" if monitor.endswith("auc") else "min"
