"""Reading checkpoints without executing code: tensors and plain containers only.

A run directory travels between people (shared folders, W&B model artifacts), and a pickle can
run anything on load, so every checkpoint this project reads back goes through
``read_checkpoint``: ``torch.load(weights_only=True)``, which refuses every object but tensors,
numbers, strings and containers. A file that needs more is refused with its name, never opened
the unsafe way.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reaction.afe.plan import AFEPlan

# CTRModule stores the model under ``self.net``; every other state-dict entry is not the model's.
NET_PREFIX = "net."


class UnsafeCheckpointError(ValueError):
    """A checkpoint that would need arbitrary code (a crafted or foreign pickle) to load."""


def read_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """The checkpoint's contents, loaded without running code; ``mmap`` reads lazily (only the
    parts touched are paged in, e.g. callback states of a checkpoint with huge tables)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        reason = str(error).splitlines()[0]
        raise UnsafeCheckpointError(
            f"{path}: refused to load: it holds objects other than tensors and plain containers "
            f"({reason}). A run directory may only hold checkpoints written by reaction-train; "
            "this one was written by something else or has been tampered with."
        ) from None
    if not isinstance(state, dict):
        raise UnsafeCheckpointError(f"{path}: not a checkpoint (a {type(state).__name__})")
    return state


def _net_state(path: str | Path) -> dict[str, Any]:
    state = read_checkpoint(path).get("state_dict")
    if not isinstance(state, dict):
        raise ValueError(f"{path}: no state_dict (not a reaction-train checkpoint)")
    return state


def checkpoint_plan(path: str | Path) -> AFEPlan | None:
    """The AFE plan a checkpoint's net was trained with (None: the model saw every field)."""
    extra = _net_state(path).get(f"{NET_PREFIX}_extra_state")
    return AFEPlan.from_dict(extra["afe_plan"]) if extra else None


def load_net_weights(net: nn.Module, path: str | Path) -> None:
    """Load the ``net.*`` entries of a Lightning checkpoint into ``net`` (strictly)."""
    state = _net_state(path)
    weights = {k[len(NET_PREFIX) :]: v for k, v in state.items() if k.startswith(NET_PREFIX)}
    if not weights:
        raise ValueError(f"{path}: no '{NET_PREFIX}*' entries in its state_dict")
    net.load_state_dict(weights)
