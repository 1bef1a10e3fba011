"""Whether a run directory can teach a ``fusion=kd`` run, checked at start-up."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from reaction.config.structure import HYDRA_KEYS, safe_object
from reaction.runs.load import load_run_config
from reaction.runs.run_dir import RunDir


def teacher_problems(cfg: DictConfig) -> list[str]:
    """The teacher of ``fusion=kd``: a finished run with a checkpoint that loads safely, fed the
    same ids (it is given this run's batches; other vocabularies would be garbage in, or out of
    range)."""
    teacher_run = (cfg.get("fusion") or {}).get("teacher_run")
    if (cfg.get("fusion") or {}).get("kind") != "kd" or not teacher_run:
        return []
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
