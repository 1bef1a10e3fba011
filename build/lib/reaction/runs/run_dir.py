"""``RunDir``: the one object that knows a run directory's layout and its resume policy.

Training writes it, and analysis, export, resume, reports and W&B artifacts read it back, so the
file names live here only::

    <run>/results.json                 metrics, costs, data sizes, the resolved config
    <run>/.hydra/config.yaml           the launch config (present even if the run died early)
    <run>/checkpoints/last.ckpt        newest epoch-end or mid-epoch checkpoint (resume)
    <run>/checkpoints/epochNN-aucX.ckpt  the best val AUC (what is tested and served)
    <run>/checkpoints/afe_plan.json    the AFE plan the run served (also inside each checkpoint)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reaction.runs.checkpoint import read_checkpoint
from reaction.runs.results import RESULTS_FILE
from reaction.utils.jsonio import write_json_atomic

log = logging.getLogger(__name__)

RESUME_POLICIES = ("auto", "never")


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory; nothing is read or created until asked."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @classmethod
    def finished_under(cls, root: str | Path) -> list[RunDir]:
        """Every run below ``root`` (a run or a sweep folder) that wrote its results, in path
        order: what reports read."""
        return [cls(path.parent) for path in sorted(Path(root).rglob(RESULTS_FILE))]

    @property
    def results(self) -> Path:
        return self.path / RESULTS_FILE

    @property
    def launch_config(self) -> Path:
        return self.path / ".hydra" / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def plan(self) -> Path:
        return self.checkpoints / "afe_plan.json"

    def read_results(self) -> dict[str, Any] | None:
        return json.loads(self.results.read_text()) if self.results.is_file() else None

    def write_results(self, payload: dict[str, Any]) -> None:
        write_json_atomic(self.results, payload)

    def checkpoint(self, which: str | Path = "best") -> Path:
        """``"best"`` / ``"last"`` / a path -> an existing checkpoint file."""
        if which == "last":
            path = self.last_checkpoint
        elif which == "best":
            path = self.best_checkpoint()
        else:
            path = Path(which)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {str(which)!r}: no file at {path}")
        return path

    def best_checkpoint(self) -> Path:
        """The checkpoint ModelCheckpoint kept for the best val AUC, as ``last.ckpt`` records it
        (found by name in this run's ``checkpoints/``, for a moved run); without a record, the
        only checkpoint besides ``last.ckpt``."""
        if self.last_checkpoint.is_file():
            state = read_checkpoint(self.last_checkpoint, mmap=True)
            for callback in state.get("callbacks", {}).values():
                recorded = callback.get("best_model_path") if isinstance(callback, dict) else None
                if recorded:
                    local = self.checkpoints / Path(recorded).name
                    return local if local.is_file() else Path(recorded)
        others = sorted(p for p in self.checkpoints.glob("*.ckpt") if p != self.last_checkpoint)
        if not others:
            raise FileNotFoundError(f"{self.checkpoints}: no checkpoint (*.ckpt) to load")
        if len(others) > 1:
            names = [p.name for p in others]
            raise FileNotFoundError(
                f"{self.checkpoints}: cannot tell the best checkpoint among {names}"
            )
        return others[0]

    def resume_from(self, policy: str | None) -> Path | None:
        """The checkpoint to resume from, or None to start fresh.

        ``auto`` (the default) continues a run whose directory already holds ``last.ckpt`` -- the
        newest of the epoch-end and the periodic mid-epoch checkpoints -- so re-running the same
        command after a preemption picks up where it stopped; ``never`` always starts fresh; any
        other value is a checkpoint file, which must exist.
        """
        if policy in (None, "never"):
            return None
        if policy == "auto":
            if self.last_checkpoint.is_file():
                log.info("resuming from %s", self.last_checkpoint)
                return self.last_checkpoint
            return None
        path = Path(policy)
        if not path.is_file():
            raise FileNotFoundError(
                f"resume={policy}: no such checkpoint file (use auto, never or a .ckpt path)"
            )
        return path

    def finished_results(self, policy: str | None) -> dict[str, Any] | None:
        """With ``resume=auto``, the results of a run that already finished here: a re-launched
        sweep skips its finished trials instead of training them one more epoch."""
        if policy != "auto" or not self.results.is_file():
            return None
        log.info(
            "%s exists: the run finished, nothing to resume (resume=never retrains it)",
            self.results,
        )
        return self.read_results()
