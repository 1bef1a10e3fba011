"""Start-up validation of a composed ``train`` config: every mistake at once, before any data.

Hydra's struct mode already refuses ``foo.bar=1`` for a key that does not exist; this catches the
rest of what people type by hand: ``+key=`` additions nothing reads, values out of range, and
combinations that would fail (or silently do nothing) only after preprocessing, AFE and maybe a
whole epoch. It is a registry: each config group owns its checks (``afe_problems``,
``fusion_problems``, ``data_problems``, the Lightning ``module``/``trainer``/callback checks, the
config dataclasses of ``data``) and this module only asks them, plus the run-level keys and the
sweep launch. Nothing here reads data or builds a model. ``validate_config`` raises one
:class:`ConfigError` listing every problem, each starting with ``key=value``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig
from omegaconf.errors import (
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from reaction.afe.fit import afe_problems
from reaction.cli.sweeps import check_sweep_launch
from reaction.config.nodes import ConfigError
from reaction.config.structure import target_keys, unknown_keys, unresolved
from reaction.config.values import int_at_least, is_int
from reaction.data.checks import data_problems
from reaction.fusion.config import fusion_problems
from reaction.lit.checks import (
    checkpoint_problems,
    label_config_problems,
    module_config_problems,
    monitor_problems,
    trainer_problems,
)
from reaction.runs.teacher import teacher_problems

__all__ = ["ConfigError", "validate_config"]

_MAX_SEED = 2**32 - 1  # numpy's seed range, which Lightning's seed_everything enforces
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


def _run(cfg: DictConfig) -> list[str]:
    """Top-level keys: seed, test_ckpt, cost_batch_size."""
    problems = []
    seed, ckpt = cfg.get("seed"), cfg.get("test_ckpt")
    if not (is_int(seed) and 0 <= seed <= _MAX_SEED):
        problems.append(f"seed={seed!r} (allowed: an int in [0, {_MAX_SEED}])")
    if ckpt not in ("best", "last", None) and not (isinstance(ckpt, str) and Path(ckpt).is_file()):
        problems.append(f"test_ckpt={ckpt!r} (allowed: best, last, null or a checkpoint file)")
    return problems + int_at_least("cost_batch_size", cfg.get("cost_batch_size"), 1)


def _sweep_launch(cfg: DictConfig) -> list[str]:
    """No Hydra multirun around DDP on a local launcher."""
    try:
        check_sweep_launch(cfg)
    except ValueError as error:
        return [str(error)]
    return []


_CHECKS: tuple[Check, ...] = (
    unresolved,
    unknown_keys,
    target_keys,
    _run,
    afe_problems,
    fusion_problems,
    teacher_problems,
    module_config_problems,
    label_config_problems,
    trainer_problems,
    _sweep_launch,
    monitor_problems,
    checkpoint_problems,
    data_problems,
)
