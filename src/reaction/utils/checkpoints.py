"""Which checkpoint a run continues from: ``resume=auto|never|<path>``."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.ckpt"
RESUME_CHOICES = ("auto", "never")


def checkpoint_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def resume_checkpoint(setting: str | None, output_dir: str | Path) -> Path | None:
    """The checkpoint to resume from, or None to start fresh.

    ``auto`` (the default) continues a run whose directory already holds ``last.ckpt`` — the
    newest of the epoch-end and the periodic mid-epoch checkpoints — so re-running the same
    command after a preemption picks up where it stopped; ``never`` always starts fresh; any
    other value is a checkpoint file, which must exist.
    """
    if setting in (None, "never"):
        return None
    if setting == "auto":
        last = checkpoint_dir(output_dir) / LAST_CHECKPOINT
        if last.is_file():
            log.info("resuming from %s", last)
            return last
        return None
    path = Path(setting)
    if not path.is_file():
        raise FileNotFoundError(
            f"resume={setting}: no such checkpoint file (use auto, never or a .ckpt path)"
        )
    return path
