"""``model=reaction`` end to end: towers trained together, the best one served and measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reaction.afe import AFENet
from reaction.cli.train import train
from reaction.info.neurons import auc
from reaction.metrics import keys
from reaction.models.reaction import ServedTower
from reaction.runs.load import load_run
from tests.conftest import compose_train, small_run_overrides


@pytest.fixture(scope="module")
def reaction_run(data_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reaction_train")
    cfg = compose_train(
        [
            *small_run_overrides(),
            "trainer.max_epochs=2",
            "model=reaction",
            "model.net.hidden_units=[32,16]",
            "fusion.towers=3",
            "fusion=linear_warmup",
            "afe.null_permutations=20",
        ],
        out,
        data_dir,
    )
    train(cfg)
    return out


def test_results_hold_every_tower_the_mean_and_the_served_one(reaction_run: Path) -> None:
    results = json.loads((reaction_run / "results.json").read_text())
    metrics = results["metrics"]
    towers = [metrics[f"test/tower{k}/auc"] for k in range(3)]
    assert metrics[keys.TEST_AUC] in towers and "test/towers_mean/auc" in metrics
    assert results["afe"]["variant"] == "paper"
    # costs are the served tower's: one [32, 16] tower behind the compact embeddings
    fields = len(results["afe"]["fields"])
    dense = (fields * 16 * 32 + 32) + (32 * 16 + 16) + (16 + 1)
    assert results["costs"][keys.PARAMS_DENSE] == dense


def test_the_loaded_served_module_reproduces_the_reported_test_auc(reaction_run: Path) -> None:
    results = json.loads((reaction_run / "results.json").read_text())
    run = load_run(reaction_run, checkpoint="best")
    assert isinstance(run.net, AFENet) and isinstance(run.net.net, ServedTower)
    logits, labels = [], []
    with torch.no_grad():
        for batch in run.datamodule.test_dataloader():
            logits.append(run.net(batch.features))
            labels.append(batch.labels[:, 0])
    assert auc(torch.cat(logits), torch.cat(labels)) == pytest.approx(
        results["metrics"][keys.TEST_AUC], abs=1e-6
    )


def test_single_plain_tower_ablation_trains(train_cfg) -> None:
    results = train(train_cfg("model=reaction", "afe=none", "fusion=none", "debug=fast_dev_run"))
    # one tower is the served model: test/* are its metrics, no per-tower copies
    assert keys.TEST_AUC in results["metrics"] and "test/tower0/auc" not in results["metrics"]
    assert "afe" not in results


def test_reparam_run_ends_merged_and_serves_the_merged_tower(train_cfg) -> None:
    cfg = train_cfg(
        "model=reaction", "afe=none", "fusion=reparam", "model.net.hidden_units=[16]",
        "trainer.max_epochs=2", "+trainer.limit_train_batches=10", "+trainer.limit_val_batches=3",
        "+trainer.limit_test_batches=3",
    )  # fmt: skip
    results = train(cfg)
    run = load_run(cfg.paths.output_dir, checkpoint="last", served=False)
    towers = run.net.towers
    assert float(towers.s) == 0.0  # the schedule reached the end of the merge ramp
    merged = towers.merge()
    batch = next(iter(run.datamodule.test_dataloader()))
    with torch.no_grad():
        x = run.net.embedding(batch.features).flatten(1)
        dp = (torch.sigmoid(towers(x)[0]) - torch.sigmoid(merged(x))).abs().max()
    assert dp <= 1e-5
    assert results["costs"][keys.PARAMS_DENSE] == sum(p.numel() for p in merged.parameters())
