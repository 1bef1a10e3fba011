"""Start-up validation of a composed ``train`` config: every mistake at once, before any data.

Hydra's struct mode already refuses ``foo.bar=1`` for a key that does not exist; this catches the
rest of what people type by hand: ``+key=`` additions nothing reads, values out of range, and
combinations that would fail (or silently do nothing) only after preprocessing, AFE and maybe a
whole epoch. The checks owned elsewhere are reused, not copied: ``AFEConfig``/``FusionConfig``
(ranges, unknown keys), ``CTRModule``'s ``module_problems``, the fusion tower predicates, the
config dataclasses of ``data`` (``PreprocessConfig``, ``SplitConfig``, ``SyntheticConfig``).
Nothing here reads data or builds a model; it imports the configured classes to read their
signatures. ``validate_config`` raises one :class:`ConfigError` listing every problem, each
starting with ``key=value``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from lightning.fabric.plugins.precision.precision import (
    _PRECISION_INPUT_INT,
    _PRECISION_INPUT_STR,
    _PRECISION_INPUT_STR_ALIAS,
)
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from reaction.afe.fit import afe_config
from reaction.afe.net import takes_flat_embeddings
from reaction.cli.sweeps import check_sweep_launch
from reaction.config.nodes import ConfigError
from reaction.config.structure import (
    HYDRA_KEYS,
    safe_object,
    target_keys,
    unknown_keys,
    unresolved,
)
from reaction.data.formats.bad_rows import POLICIES
from reaction.fusion.config import fusion_config, tower_mismatch_problem
from reaction.lit.ctr_module import CTRModule, module_problems
from reaction.metrics import keys

__all__ = ["ConfigError", "validate_config"]

_MONITORS = (keys.VAL_AUC, keys.VAL_LOGLOSS, keys.TRAIN_LOSS)  # what CTRModule logs
# CTRDataModule's / ParquetBatchStream's arguments (checked there too, without key names).
_LOADER_MINIMUMS = {
    "batch_size": 1,
    "eval_batch_size": 1,
    "num_workers": 0,
    "shuffle_buffer_row_groups": 1,
}
_MAX_SEED = 2**32 - 1  # numpy's seed range, which Lightning's seed_everything enforces
# Lightning's precision inputs; the ints are the string aliases as the command line parses them.
_PRECISION_NAMES = (*get_args(_PRECISION_INPUT_STR), *get_args(_PRECISION_INPUT_STR_ALIAS))
_PRECISIONS = (*_PRECISION_NAMES, *get_args(_PRECISION_INPUT_INT))
Check = Callable[[DictConfig], list[str]]


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` naming every problem of ``cfg`` (a composed ``train`` config)."""
    problems: list[str] = []
    for check in _CHECKS:
        try:
            problems += check(cfg)
        except (MissingMandatoryValue, InterpolationResolutionError):
            continue  # reported by unresolved
        except ConfigError as error:
            problems += error.problems
        except OmegaConfBaseException as error:
            key = getattr(error, "full_key", None) or "config"
            problems.append(f"{key}: {str(error).splitlines()[0]}")
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_at_least(key: str, value: Any, low: int) -> list[str]:
    if _is_int(value) and value >= low:
        return []
    return [f"{key}={value!r} (allowed: an int >= {low})"]


def _model_class(cfg: DictConfig) -> Any:
    return safe_object(cfg.model.net._target_)


def _model_towers(cfg: DictConfig) -> Any:
    """A multi-tower model reads its tower count from the fusion group (``model=reaction``:
    ``num_towers: ${fusion.towers}``); every other model has one tower."""
    return cfg.model.net.get("num_towers", 1)


def _run(cfg: DictConfig) -> list[str]:
    """Top-level keys: seed, test_ckpt, cost_batch_size."""
    problems = []
    seed, ckpt = cfg.get("seed"), cfg.get("test_ckpt")
    if not (_is_int(seed) and 0 <= seed <= _MAX_SEED):
        problems.append(f"seed={seed!r} (allowed: an int in [0, {_MAX_SEED}])")
    if ckpt not in ("best", "last", None) and not (isinstance(ckpt, str) and Path(ckpt).is_file()):
        problems.append(f"test_ckpt={ckpt!r} (allowed: best, last, null or a checkpoint file)")
    return problems + _int_at_least("cost_batch_size", cfg.get("cost_batch_size"), 1)


def _afe(cfg: DictConfig) -> list[str]:
    afe = afe_config(cfg.get("afe"))
    problems = [
        f"afe.{k}={getattr(afe, k)!r}: has no effect ({why})"
        for k, why in afe.unread_keys().items()
    ]
    model = _model_class(cfg)
    if afe.flat_embeddings and model is not None and not takes_flat_embeddings(model):
        policy = f"afe.dim_policy={afe.dim_policy!r}" if afe.dim_policy != "uniform" else ""
        subspace = f"afe.subspace_dim={afe.subspace_dim}" if afe.subspace_dim else ""
        problems.append(
            f"{' '.join(filter(None, (policy, subspace)))}: needs a model with flat embeddings "
            f"(model=dnn, reaction), got model={cfg.model.name} ({model.__name__} embeds each "
            "field at one size; allowed here: afe.dim_policy=uniform afe.subspace_dim=null)"
        )
    return problems


def _fusion(cfg: DictConfig) -> list[str]:
    node = cfg.get("fusion")
    fusion = fusion_config(OmegaConf.to_container(node, resolve=True) if node else None)
    problems = [
        f"fusion.{k}={getattr(fusion, k)!r}: has no effect ({why})"
        for k, why in fusion.unread_keys().items()
    ]
    towers = _model_towers(cfg)
    if problem := tower_mismatch_problem(fusion.towers, towers, f"model={cfg.model.name}"):
        problems.append(problem)
    if fusion.kind == "kd" and fusion.teacher_run:
        problems += _teacher_problems(fusion.teacher_run, cfg)
    return problems


def _teacher_problems(teacher_run: str, cfg: DictConfig) -> list[str]:
    """The teacher of ``fusion=kd``: a finished run with a checkpoint, fed the same ids (it is
    given this run's batches; other vocabularies would be garbage in, or out of range)."""
    from reaction.runs.load import load_run_config  # kd only
    from reaction.runs.run_dir import RunDir

    key = f"fusion.teacher_run={teacher_run!r}"
    if not Path(teacher_run).is_dir():
        return [f"{key}: no such run directory"]
    try:
        RunDir(teacher_run).checkpoint("best")
        teacher = load_run_config(teacher_run)
    except (FileNotFoundError, ValueError) as error:
        return [f"{key}: {error}"]
    ours, theirs = _feature_keys(cfg.data), _feature_keys(teacher.data)
    differ = [
        f"{k}={theirs.get(k)!r} (here {ours.get(k)!r})" for k in ours if ours[k] != theirs.get(k)
    ]
    if not differ:
        return []
    return [f"{key}: the teacher saw other features, trained with {', '.join(differ)}"]


def _feature_keys(data: DictConfig) -> dict[str, Any]:
    """What decides the ids a model sees, by dotted key: the dataset, the raw source's settings
    (synthetic: the generator's) and the preprocessing (vocabularies, buckets), defaults filled."""
    found = {"data.name": data.get("name")}
    for path in ("datamodule.raw_source.config", "datamodule.preprocess"):
        settings = _settings(OmegaConf.select(data, path))
        found.update({f"data.{path}.{k}": v for k, v in settings.items()})
    return found


def _settings(node: Any) -> dict[str, Any]:
    """A config dataclass node as plain values over its class's defaults."""
    if not isinstance(node, DictConfig):
        return {}
    values = OmegaConf.to_container(node, resolve=True)
    target = safe_object(values.get("_target_", ""))
    defaults = dataclasses.asdict(target()) if dataclasses.is_dataclass(target) else {}
    return {**defaults, **{k: v for k, v in values.items() if k not in HYDRA_KEYS}}


def _module(cfg: DictConfig) -> list[str]:
    node = cfg.get("module") or {}
    names = ("lr", "weight_decay", "embedding_lr", "embedding_weight_decay", "plateau_factor")
    params = inspect.signature(CTRModule).parameters
    values = {k: node.get(k, params[k].default) for k in names}
    problems = [
        f"module.{k}={v!r} (allowed: a number{' or null' if k == 'plateau_factor' else ''})"
        for k, v in values.items()
        if not (_is_number(v) or (k == "plateau_factor" and v is None))
    ]
    if problems:
        return problems
    problems = module_problems(**values)
    thresholds = node.get("auc_thresholds")
    if thresholds is not None and not (_is_int(thresholds) and thresholds >= 2):
        problems.append(f"module.auc_thresholds={thresholds!r} (allowed: null or an int >= 2)")
    return problems + _int_at_least("module.plateau_patience", node.get("plateau_patience", 0), 0)


def _trainer(cfg: DictConfig) -> list[str]:
    trainer = cfg.get("trainer") or {}
    epochs, clip = trainer.get("max_epochs"), trainer.get("gradient_clip_val")
    problems = []
    if not (epochs is None or epochs == -1 or (_is_int(epochs) and epochs >= 1)):
        problems.append(f"trainer.max_epochs={epochs!r} (allowed: an int >= 1, -1 or null)")
    if not (clip is None or (_is_number(clip) and clip >= 0)):
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
    try:
        check_sweep_launch(cfg)  # no Hydra multirun around DDP on a local launcher
    except ValueError as error:
        problems.append(str(error))
    return problems


def _gpu_problems(accelerator: Any, devices: Any) -> list[str]:
    if accelerator not in ("gpu", "cuda"):
        return []
    import torch

    available = torch.cuda.device_count()
    wanted = devices if _is_int(devices) and devices > 0 else 1
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


def _monitors(cfg: DictConfig) -> list[str]:
    """Monitored metrics are logged, and optimised the right way."""
    problems = []
    multi_tower = _model_towers(cfg) > 1
    for name, node, _ in _callback_nodes(cfg):
        monitor, mode = node.get("monitor"), node.get("mode")
        if monitor is None:
            continue
        if monitor not in _MONITORS and not (multi_tower and _tower_metric(monitor)):
            problems.append(f"callbacks.{name}.monitor={monitor!r} (allowed: {sorted(_MONITORS)})")
        elif mode is not None and mode != _direction(monitor):
            problems.append(
                f"callbacks.{name}.mode={mode!r} with monitor={monitor!r} (allowed: "
                f"{_direction(monitor)!r}; the other way keeps the worst epoch)"
            )
    return problems


def _checkpoints(cfg: DictConfig) -> list[str]:
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


def _direction(monitor: str) -> str:
    return "max" if monitor.endswith("auc") else "min"


def _data(cfg: DictConfig) -> list[str]:
    """The loader's sizes and, for file datasets, that the input exists (nothing is opened)."""
    data = cfg.data
    module = data.get("datamodule") or {}
    problems = []
    for key, low in _LOADER_MINIMUMS.items():
        if key in module:
            problems += _int_at_least(f"data.datamodule.{key}", module[key], low)
    if "on_bad_rows" in data and data.on_bad_rows not in POLICIES:
        problems.append(f"data.on_bad_rows={data.on_bad_rows!r} (allowed: {', '.join(POLICIES)})")
    if "path" in data and not OmegaConf.is_missing(data, "path") and not Path(data.path).exists():
        problems.append(f"data.path={data.path!r}: no such file or folder (see docs/DATASETS.md)")
    return problems


_CHECKS: tuple[Check, ...] = (
    unresolved,
    unknown_keys,
    target_keys,
    _run,
    _afe,
    _fusion,
    _module,
    _trainer,
    _monitors,
    _checkpoints,
    _data,
)
