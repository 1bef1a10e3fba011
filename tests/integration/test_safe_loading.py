"""A run directory is safe to open: a tampered checkpoint never executes code.

Each path that reads a run back -- ``load_run`` (analysis, serving), ``reaction-export``,
``resume=auto`` and a ``fusion=kd`` teacher -- is given a run whose checkpoints were replaced by
a crafted pickle that would create a file when unpickled. The file must never appear, and the
refusal must name the checkpoint.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from reaction.cli.export import export
from reaction.cli.train import train
from reaction.config import ConfigError
from reaction.runs.checkpoint import UnsafeCheckpointError, read_checkpoint
from reaction.runs.load import load_run
from reaction.runs.run_dir import RunDir
from tests.conftest import compose_train, small_run_overrides
from tests.integration.test_export import compose_export

FAST = ["+trainer.limit_train_batches=3", "+trainer.limit_val_batches=1", "cost_batch_size=64"]


class _Payload:
    """Unpickling this runs ``touch <marker>``: what an attacker puts in a shared run folder."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def trained_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("safe") / "run"
    train(compose_train([*small_run_overrides(), *FAST, "model=dnn"], out, data_dir))
    return out


@pytest.fixture
def tampered(trained_run: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the run with every checkpoint replaced by the crafted pickle, and the marker."""
    run = tmp_path / "tampered"
    shutil.copytree(trained_run, run)
    marker = tmp_path / "pwned"
    for checkpoint in RunDir(run).checkpoints.glob("*.ckpt"):
        torch.save({"state_dict": _Payload(marker), "callbacks": {}}, checkpoint)
    return run, marker


def test_the_crafted_pickle_would_run_code_if_unpickled(tampered, tmp_path: Path) -> None:
    """The control: the payload is live, so the refusals below are what stops it."""
    run, marker = tampered
    torch.load(RunDir(run).last_checkpoint, weights_only=False)
    assert marker.exists()


def test_trained_checkpoints_load_safely(trained_run: Path) -> None:
    state = read_checkpoint(RunDir(trained_run).checkpoint("best"))
    assert any(k.startswith("net.") for k in state["state_dict"])
    assert load_run(trained_run).net(torch.zeros(2, 39, dtype=torch.long)).shape == (2,)


def test_load_run_refuses_a_tampered_checkpoint(tampered) -> None:
    run, marker = tampered
    with pytest.raises(UnsafeCheckpointError, match=r"last\.ckpt: refused to load"):
        load_run(run)
    with pytest.raises(UnsafeCheckpointError, match="tampered with"):
        load_run(run, checkpoint=next(RunDir(run).checkpoints.glob("epoch*.ckpt")))
    assert not marker.exists()


def test_export_refuses_a_tampered_run(tampered, tmp_path: Path) -> None:
    run, marker = tampered
    with pytest.raises(UnsafeCheckpointError, match=r"last\.ckpt"):
        export(compose_export(run, tmp_path / "export"))
    assert not marker.exists()


def test_resume_refuses_a_tampered_last_checkpoint(tampered, data_dir: Path) -> None:
    run, marker = tampered
    cfg = compose_train([*small_run_overrides(), *FAST, "model=dnn", "resume=auto"], run, data_dir)
    with pytest.raises(UnsafeCheckpointError, match=r"last\.ckpt: refused to load"):
        train(cfg)
    assert not marker.exists()


def test_a_tampered_kd_teacher_is_refused_before_training(
    tampered, data_dir: Path, tmp_path: Path
) -> None:
    teacher, marker = tampered
    overrides = ["model=reaction", "afe=none", "fusion=kd", f"fusion.teacher_run={teacher}"]
    cfg = compose_train([*small_run_overrides(), *FAST, *overrides], tmp_path / "kd", data_dir)
    with pytest.raises(ConfigError, match=r"fusion.teacher_run=.*last\.ckpt: refused to load"):
        train(cfg)
    assert not marker.exists()
