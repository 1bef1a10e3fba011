"""Is a composed config well-formed? Resolvable, no unknown keys, targets accept their keys.

The structural half of start-up validation (``reaction.cli.validation`` adds the values and
combinations): Hydra's struct mode refuses ``foo.bar=1`` for a key that does not exist, but not
``+key=`` additions nothing reads, nor interpolations that break only when resolved.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, InterpolationToMissingValueError

from reaction.config.conf_dir import CONF_DIR
from reaction.config.nodes import ConfigError, dataclass_from_node, did_you_mean

HYDRA_KEYS = {"_target_", "_recursive_", "_convert_", "_partial_", "_args_"}


def walk(node: DictConfig, path: str = "") -> Iterator[tuple[str, DictConfig, str, Any]]:
    """``(dotted key, parent, key, raw value)`` of every entry, resolving nothing."""
    for key, value in node.items_ex(resolve=False):
        dotted = f"{path}.{key}" if path else str(key)
        yield dotted, node, str(key), value
        if isinstance(value, DictConfig) and not OmegaConf.is_interpolation(node, key):
            yield from walk(value, dotted)


def unresolved(cfg: DictConfig) -> list[str]:
    """``???`` values nobody set, and interpolations that do not resolve."""
    problems, causes = [], set()
    for dotted, parent, key, raw in walk(cfg):
        if not OmegaConf.is_interpolation(parent, key):
            if OmegaConf.is_missing(parent, key):
                problems.append(f"{dotted}=???: required, set it ({dotted}=...)")
            continue
        try:
            parent[key]
        except InterpolationToMissingValueError:
            continue  # the missing value is reported where it is
        except InterpolationResolutionError as error:
            cause = str(error).splitlines()[0]
            if cause not in causes:  # not again for each key that refers to the broken one
                problems.append(f"{dotted}={raw}: cannot resolve ({cause})")
            causes.add(cause)
    return problems


@functools.cache
def known_keys() -> frozenset[str]:
    """Top-level keys: ``train.yaml``'s, its groups' and those of global-package files."""
    train = OmegaConf.load(Path(CONF_DIR) / "train.yaml")
    defaults = OmegaConf.to_container(train.defaults)
    groups = {next(iter(d)).split()[-1].lstrip("/") for d in defaults if isinstance(d, dict)}
    top = set(train) - {"defaults", "hydra"} | groups
    for path in Path(CONF_DIR).glob("*/*.yaml"):
        if path.read_text().startswith("# @package _global_"):
            top |= set(OmegaConf.load(path)) - {"defaults", "hydra"}
    return frozenset(top)


def unknown_keys(cfg: DictConfig) -> list[str]:
    allowed = sorted(known_keys())
    return [
        f"{key}={cfg[key]!r}: unknown key{did_you_mean(key, allowed)}; allowed: {allowed}"
        for key in cfg
        if key not in allowed
    ]


def target_keys(cfg: DictConfig) -> list[str]:
    """Every ``_target_`` importable; its keys accepted (dataclass targets: fully validated)."""
    problems = []
    for dotted, node, key, value in walk(cfg):
        if key != "_target_":
            continue
        path = dotted.rsplit(".", 1)[0]
        try:
            target = get_object(value)
        except Exception as error:
            problems.append(f"{dotted}={value!r}: cannot import it ({error})")
            continue
        problems += call_problems(path, node, target)
    return problems


def call_problems(path: str, node: DictConfig, target: Any) -> list[str]:
    """Dataclass targets (the config dataclasses) are built, format factories under ``data``
    called (both cheap and pure); any other target only has its keys checked."""
    if dataclasses.is_dataclass(target) or (
        inspect.isfunction(target) and path.startswith("data.")
    ):
        values = OmegaConf.to_container(node, resolve=True)
        kwargs = {k: v for k, v in values.items() if k not in HYDRA_KEYS}
        try:
            if dataclasses.is_dataclass(target):
                dataclass_from_node(target, kwargs, path)
            else:
                target(**kwargs)
        except ConfigError as error:
            return error.problems
        except (ValueError, TypeError, OSError) as error:
            return [f"{path}: {error}"]
        return []
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return []  # no introspectable signature
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return []
    shown = f"; allowed: {sorted(params)}" if len(params) <= 20 else ""
    return [
        f"{path}.{k}={v!r}: {target.__name__} takes no argument {k!r}"
        f"{did_you_mean(str(k), list(params))}{shown}"
        for k, v in node.items_ex(resolve=False)
        if k not in HYDRA_KEYS and k not in params
    ]


def safe_object(path: str) -> Any:
    try:
        return get_object(path)
    except Exception:
        return None  # reported by target_keys


def model_class(cfg: DictConfig) -> Any:
    """The configured model's class (read for its signature; nothing is built)."""
    return safe_object(cfg.model.net._target_)


def model_towers(cfg: DictConfig) -> Any:
    """A multi-tower model reads its tower count from the fusion group (``model=reaction``:
    ``num_towers: ${fusion.towers}``); every other model has one tower."""
    return cfg.model.net.get("num_towers", 1)
