"""Reliability end to end: resume after SIGKILL, non-finite losses, determinism, DDP metrics.

The stream-level guarantees (equal batch counts per rank, resuming mid-epoch without repeating or
skipping a row) are in ``tests/data/test_stream_ddp.py``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, open_dict
from sklearn.metrics import roc_auc_score

from reaction.callbacks.nonfinite import NonFiniteLossError
from reaction.cli.train import train
from reaction.metrics import keys
from reaction.runs.load import load_run
from tests.conftest import SMALL_ROWS

# 30k rows -> 24k training rows -> 24 steps of 1024 per epoch; 3 epochs = 72 steps
STEPS_PER_EPOCH = 24
RESUME_RUN = (
    "model=reaction",  # AFE plan + DTF towers + fusion schedule: all must resume
    "model.net.dropout=0.2",  # draws from the RNG every step
    "trainer.max_epochs=3",
    "callbacks.step_checkpoint.every_n_train_steps=5",
)
# "A random step", reproducibly: drawn once from a fixed seed, never a multiple of 5 or an
# epoch boundary, so some trained steps are lost and must be redone.
KILL_STEP = random.Random(20261128).choice(
    [s for s in range(6, 3 * STEPS_PER_EPOCH - 2) if s % 5 and s % STEPS_PER_EPOCH]
)


def _cli(
    run_dir: Path, data_dir: Path, *overrides: str, logger: str = "none"
) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",  # puts the repository root on sys.path, so tests.* callbacks can be instantiated
        "reaction.cli.train",
        f"logger={logger}",
        "~callbacks.progress_bar",
        f"paths.data_dir={data_dir}",
        f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}",
        f"hydra.run.dir={run_dir}",
        *overrides,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def _results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def test_a_run_killed_at_a_random_step_resumes_to_the_uninterrupted_metrics(
    data_dir: Path, tmp_path: Path
) -> None:
    reference = _cli(tmp_path / "reference", data_dir, *RESUME_RUN)
    assert reference.returncode == 0, reference.stderr[-3000:]

    run_dir = tmp_path / "preempted"
    kill = (
        "+callbacks.kill._target_=tests.integration.process_control.KillAtStep",
        f"+callbacks.kill.step={KILL_STEP}",
    )
    killed = _cli(run_dir, data_dir, *RESUME_RUN, *kill)
    assert killed.returncode == -9 and not (run_dir / "results.json").exists()
    saved = torch.load(run_dir / "checkpoints/last.ckpt", weights_only=False)
    assert 0 < saved["global_step"] < KILL_STEP  # work after the last checkpoint was lost

    resumed = _cli(run_dir, data_dir, *RESUME_RUN)  # the same command again: resume=auto
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Restoring states from the checkpoint" in resumed.stdout + resumed.stderr
    want, got = _results(tmp_path / "reference"), _results(run_dir)
    assert set(got["metrics"]) == set(want["metrics"])  # every tower's metrics too
    for key, value in want["metrics"].items():
        assert got["metrics"][key] == pytest.approx(value, abs=1e-6), key
    assert got["afe"]["fingerprint"] == want["afe"]["fingerprint"]


def test_a_nan_loss_stops_the_run_naming_the_step_and_keeps_the_last_good_checkpoint(
    train_cfg,
) -> None:
    cfg = train_cfg(
        "model=dnn",
        "trainer.max_epochs=2",
        "callbacks.step_checkpoint.every_n_train_steps=5",
        "+callbacks.poison._target_=tests.integration.process_control.NaNLabelsAtStep",
        "+callbacks.poison.step=32",
    )
    with pytest.raises(NonFiniteLossError, match=r"at global step 32 \(epoch 1, batch 8\)"):
        train(cfg)
    last = torch.load(Path(cfg.paths.output_dir) / "checkpoints/last.ckpt", weights_only=False)
    assert last["global_step"] == 30  # nothing was saved from the poisoned step on
    assert all(torch.isfinite(w).all() for w in last["state_dict"].values())
    assert not (Path(cfg.paths.output_dir) / "results.json").exists()


def _in_dir(cfg: DictConfig, run_dir: Path) -> DictConfig:
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    return cfg


def test_the_same_seed_gives_the_same_metrics_twice(train_cfg, tmp_path: Path) -> None:
    def metrics(seed: int, name: str) -> dict[str, float]:
        cfg = train_cfg("model=reaction", "model.net.dropout=0.2", f"seed={seed}")
        return train(_in_dir(cfg, tmp_path / name))["metrics"]

    first = metrics(5, "first")
    assert metrics(5, "second") == first
    assert metrics(6, "other")[keys.TEST_AUC] != first[keys.TEST_AUC]  # the control


def test_a_finished_run_is_not_trained_again_and_another_config_is_refused(train_cfg) -> None:
    """Re-launching a sweep skips finished trials; a reused directory must match its config."""
    first = train(train_cfg("model=dnn"))
    last = Path(first["config"]["paths"]["output_dir"]) / "checkpoints/last.ckpt"
    written = last.stat().st_mtime_ns
    assert train(train_cfg("model=dnn")) == first
    assert last.stat().st_mtime_ns == written  # not trained again
    refused = r"last.ckpt was trained with another config \(model.name: 'dnn' -> 'lr'"
    with pytest.raises(ValueError, match=refused):
        train(train_cfg("model=lr"))  # same run dir, resume=auto
    results = train(train_cfg("model=lr", "resume=never"))
    assert results["model"] == "lr"


def _single_process_auc(run_dir: Path, split: str) -> float:
    """The best checkpoint evaluated in this process on a whole split (no DDP, no padding)."""
    run = load_run(run_dir, "best")
    loader = getattr(run.datamodule, f"{split}_dataloader")()
    labels, scores = [], []
    with torch.no_grad():
        for batch in loader:
            scores.append(run.net(batch.features))
            labels.append(batch.labels[:, 0])
    return float(roc_auc_score(torch.cat(labels).numpy(), torch.cat(scores).numpy()))


@pytest.mark.ddp
def test_ddp_sim_metrics_equal_a_single_process_evaluation_and_rank_zero_writes(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trainer=ddp_sim (gloo, 2 CPU processes, launched like users launch DDP: the CLI)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))
    run_dir = tmp_path / "ddp_run"
    done = _cli(
        run_dir, data_dir, "model=dnn", "trainer=ddp_sim", "trainer.max_epochs=2", logger="wandb"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = _results(run_dir)
    assert results["config"]["trainer"]["devices"] == 2
    assert results["metrics"][keys.TEST_AUC] == pytest.approx(
        _single_process_auc(run_dir, "test"), abs=1e-5
    )
    assert results["metrics"][keys.VAL_AUC] == pytest.approx(
        _single_process_auc(run_dir, "val"), abs=1e-5
    )
    assert len(list(run_dir.rglob("results.json"))) == 1
    assert len(list(run_dir.glob("wandb/offline-run-*"))) == 1  # one W&B run for two ranks
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and "last.ckpt" in checkpoints  # best + last, written once
