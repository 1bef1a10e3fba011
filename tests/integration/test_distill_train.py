"""A distillation run end to end with its teacher trained first, in the same run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reaction.cli.train import train
from reaction.metrics import keys
from reaction.runs.teacher import train_teachers
from tests.conftest import compose_train, small_run_overrides

OVERRIDES = [
    "model=reaction",
    "afe=none",
    "model.net.hidden_units=[16]",
    "fusion=kd",
    "fusion.teacher_model=lr",
    "module.lr=0.01",
    "module.embedding_lr=0.01",
    "cost_batch_size=64",
]


@pytest.fixture(scope="module")
def kd_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("kd_in_run")
    cfg = compose_train([*small_run_overrides(20_000), *OVERRIDES], out, data_dir)
    return out, train(cfg)


def test_the_teacher_is_trained_first_into_its_own_run_folder(kd_run: tuple[Path, dict]) -> None:
    run, results = kd_run
    teacher = run / "teachers" / "0_lr"
    teacher_results = json.loads((teacher / "results.json").read_text())
    assert teacher_results["model"] == "lr"
    assert teacher_results["config"]["afe"]["variant"] == "none"
    assert teacher_results["metrics"][keys.TEST_AUC] > 0.6
    assert [p.name for p in (teacher / "checkpoints").glob("epoch*.ckpt")]
    # the student learnt (the planted signal is strong: Bayes AUC ~0.80) and is what is served
    assert results["metrics"][keys.TEST_AUC] > 0.6
    assert results["model"] == "reaction" and results["config"]["fusion"]["kind"] == "kd"
    hidden, fields = 16, results["data"][keys.NUM_FIELDS]
    assert results["costs"][keys.PARAMS_DENSE] == fields * 16 * hidden + hidden + hidden + 1


def test_a_finished_teacher_is_not_trained_again(kd_run: tuple[Path, dict], data_dir: Path) -> None:
    run, _ = kd_run
    files = sorted((run / "teachers").rglob("*"))
    stamps = [os.stat(p).st_mtime_ns for p in files]
    cfg = compose_train([*small_run_overrides(20_000), *OVERRIDES], run, data_dir)
    assert train_teachers(cfg, train) == [run / "teachers" / "0_lr"]
    assert sorted((run / "teachers").rglob("*")) == files
    assert [os.stat(p).st_mtime_ns for p in files] == stamps
