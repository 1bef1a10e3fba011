"""Which checkpoint a run continues from: ``resume=auto|never|<path>``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from reaction.utils.results import RESULTS_FILE

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


def finished_results(setting: str | None, output_dir: str | Path) -> dict[str, Any] | None:
    """With ``resume=auto``, the results of a run that already finished in ``output_dir``.

    Re-launching a sweep after a preemption then skips its finished trials (instead of training
    an early-stopped run one more epoch), continues the killed one and starts the rest.
    """
    path = Path(output_dir) / RESULTS_FILE
    if setting != "auto" or not path.is_file():
        return None
    log.info("%s exists: the run finished, nothing to resume (resume=never retrains it)", path)
    return json.loads(path.read_text())
