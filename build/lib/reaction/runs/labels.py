"""How a run is named in tables, plots and dashboards, from its results and config alone.

One label per configuration: the model, the AFE variant it ran behind (and its field budget), its
fusion (for models with towers, or any fusion but none), and any extra config keys asked for. The
report groups runs by it and W&B names runs with it, so both read alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fusion_name(fusion: Mapping[str, Any] | None) -> str:
    """The fusion a run trained with: DTF's schedule name, else the kind (``none``, ``kd``...)."""
    fusion = fusion or {}
    kind = fusion.get("kind", "none")
    return fusion.get("schedule", {}).get("name", kind) if kind == "dtf" else kind


def _fusion_tag(config: dict[str, Any]) -> str:
    """``+fusion:<kind or DTF schedule>`` (``x<T>`` with several towers)."""
    towers = (config.get("fusion") or {}).get("towers", 1)
    return f"+fusion:{fusion_name(config.get('fusion'))}" + (f"x{towers}" if towers > 1 else "")


def _has_towers(config: dict[str, Any]) -> bool:
    """A model with towers reads their count from the fusion group (``model=reaction``)."""
    return "num_towers" in ((config.get("model") or {}).get("net") or {})


def config_value(config: dict[str, Any], dotted: str) -> Any:
    """``config["a"]["b"]`` for ``"a.b"``; None when absent (or AFE is off for ``afe.*``)."""
    if dotted.startswith("afe.") and config.get("afe", {}).get("variant") == "none":
        return None
    for key in dotted.split("."):
        config = config.get(key, {}) if isinstance(config, dict) else {}
    return config if config != {} else None


def run_label(result: dict[str, Any], by: tuple[str, ...] = ()) -> str:
    """The model column: the model's name, the AFE variant (and field budget) it ran behind, its
    fusion (models with towers, or any fusion but none), and ``key=value`` for each key of ``by``.
    """
    config = result.get("config", {})
    label = result["model"]
    afe = result.get("afe")
    if afe:
        cfg = config.get("afe", {})
        order = "-random" if cfg.get("ranking") == "random" else ""
        budget = f"/{cfg['num_fields']}" if cfg.get("num_fields") else ""
        label += f"+afe:{afe['variant']}{order}{budget}"
    if _has_towers(config) or (config.get("fusion") or {}).get("kind", "none") != "none":
        label += _fusion_tag(config)
    values = {key: config_value(config, key) for key in by}
    return label + "".join(f" {k}={v}" for k, v in values.items() if v is not None)
