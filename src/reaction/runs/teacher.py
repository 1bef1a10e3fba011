"""The teachers of the distillation kinds (``fusion=kd``, ``eckd``, ``bkd``).

A teacher is a finished run directory (``fusion.teacher_run``) or a model trained first, in the
same run (``fusion.teacher_model=dcnv2``, or a list): ``train_teachers`` trains it as an ordinary
run of that model (same data, seed, module, trainer and budget; no AFE, no fusion) into
``<run>/teachers/<i>_<model>/``, a full run directory (checkpoints, ``results.json``) that then
teaches exactly as a ``teacher_run`` does. A re-launched run finds a finished teacher's
``results.json`` and does not train it again (``resume=auto``); an interrupted one continues
from its ``last.ckpt``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from reaction.config.conf_dir import CONF_DIR
from reaction.config.structure import HYDRA_KEYS, safe_object
from reaction.fusion.config import DISTILL_KINDS, as_names
from reaction.runs.load import load_run_config
from reaction.runs.run_dir import RunDir

TEACHERS_DIR = "teachers"  # <run>/teachers/<i>_<model>/: the teachers trained in the run


def teacher_dirs(cfg: DictConfig) -> list[Path]:
    """Where each teacher of ``cfg`` lives: the ``teacher_run`` directories, then one folder per
    ``teacher_model`` under ``<run>/teachers/``."""
    fusion = cfg.get("fusion") or {}
    runs = [Path(run) for run in as_names(fusion.get("teacher_run"))]
    root = Path(cfg.paths.output_dir) / TEACHERS_DIR
    models = as_names(fusion.get("teacher_model"))
    return runs + [root / f"{i}_{name}" for i, name in enumerate(models)]


def teacher_model_node(name: str) -> DictConfig:
    """``conf/model/<name>.yaml`` as the ``model`` node of a run (models whose file selects
    other groups, such as ``reaction``, are not teachers)."""
    path = Path(CONF_DIR) / "model" / f"{name}.yaml"
    if not path.is_file():
        allowed = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ValueError(f"fusion.teacher_model={name!r}: no such model (allowed: {allowed})")
    if "@package _global_" in path.read_text():
        raise ValueError(
            f"fusion.teacher_model={name!r} also picks afe/fusion (a global config); teach with "
            "a baseline model, or train it first and pass fusion.teacher_run=<its run directory>"
        )
    node = OmegaConf.load(path)
    assert isinstance(node, DictConfig)
    return node


def teacher_config(cfg: DictConfig, name: str, run_dir: Path) -> DictConfig:
    """The run that trains teacher ``name`` first: ``cfg`` with that model, no AFE and no fusion,
    written to ``run_dir``; data, seed, module, trainer and callbacks are the student's."""
    teacher = copy.deepcopy(cfg)
    conf = Path(CONF_DIR)
    with open_dict(teacher):
        teacher.model = teacher_model_node(name)
        teacher.afe = OmegaConf.load(conf / "afe" / "none.yaml")
        teacher.fusion = OmegaConf.load(conf / "fusion" / "none.yaml")
        teacher.paths.output_dir = str(run_dir)
    return teacher


def train_teachers(cfg: DictConfig, train: Callable[[DictConfig], dict[str, Any]]) -> list[Path]:
    """Train every ``fusion.teacher_model`` of ``cfg`` that has not finished yet (``train``:
    ``reaction.cli.train.train``) and return all teacher run directories, in config order."""
    fusion = cfg.get("fusion") or {}
    dirs = teacher_dirs(cfg)
    if fusion.get("kind") not in DISTILL_KINDS:
        return []
    models = as_names(fusion.get("teacher_model"))
    for name, run_dir in zip(models, dirs[len(dirs) - len(models) :], strict=True):
        train(teacher_config(cfg, name, run_dir))  # a finished teacher returns its results
    return dirs


def teacher_problems(cfg: DictConfig) -> list[str]:
    """The teachers of a distillation kind: each ``teacher_model`` a baseline model config, each
    ``teacher_run`` a finished run with a checkpoint that loads safely, fed the same ids (it is
    given this run's batches; other vocabularies would be garbage in, or out of range)."""
    fusion = cfg.get("fusion") or {}
    if fusion.get("kind") not in DISTILL_KINDS:
        return []
    problems = []
    for name in as_names(fusion.get("teacher_model")):
        try:
            teacher_model_node(name)
        except ValueError as error:
            problems.append(str(error))
    for run in as_names(fusion.get("teacher_run")):
        problems += _teacher_run_problems(cfg, run)
    return problems


def _teacher_run_problems(cfg: DictConfig, teacher_run: str) -> list[str]:
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
