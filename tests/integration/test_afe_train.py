"""AFE inside ``reaction-train``: plan beside the checkpoints, costs, save -> load -> predict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from reaction.afe import PLAN_FILE, AFENet, AFEPlan, build_net
from reaction.cli.train import train
from reaction.metrics import keys
from reaction.runs.checkpoint import checkpoint_plan, load_net_weights
from reaction.runs.load import load_run
from reaction.runs.run_dir import RunDir
from tests.conftest import compose_train, small_run_overrides


@pytest.fixture(scope="module")
def extended_run(data_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("afe_train")
    cfg = compose_train(
        [
            *small_run_overrides(),
            "model=dnn",
            "model.net.hidden_units=[32]",
            "afe=extended",
            "afe.dim_policy=relevance",
            "afe.subspace_dim=16",
            "afe.null_permutations=20",
        ],
        out,
        data_dir,
    )
    train(cfg)
    return out


def test_results_report_fields_and_embedding_parameters_before_and_after(extended_run) -> None:
    results = json.loads((extended_run / "results.json").read_text())
    costs = results["costs"]
    assert (
        costs[keys.AFE_FIELDS_BEFORE]
        == 39
        > costs[keys.AFE_FIELDS_AFTER]
        == len(results["afe"]["fields"])
    )
    assert costs[keys.AFE_EMBEDDING_PARAMS_AFTER] == costs[keys.PARAMS_EMBEDDING]
    ratio = costs[keys.AFE_EMBEDDING_PARAMS_BEFORE] / costs[keys.AFE_EMBEDDING_PARAMS_AFTER]
    assert ratio == pytest.approx(costs[keys.AFE_EMBEDDING_CUT]) and ratio > 5
    assert set(results["afe"]["dropped"]) | set(results["afe"]["fields"]) == {
        *(f"C{i}" for i in range(1, 27)),
        *(f"I{i}" for i in range(1, 14)),
    }


def test_plan_json_beside_the_checkpoints_equals_the_checkpoints_plan(extended_run) -> None:
    on_disk = AFEPlan.load(extended_run / "checkpoints" / PLAN_FILE)
    for name in ("best", "last"):
        assert checkpoint_plan(RunDir(extended_run).checkpoint(name)) == on_disk
    assert on_disk.subspace_dim == 16 and on_disk.mixed_dims
    assert any(f.compression and f.compression.tail_buckets for f in on_disk.fields)


def test_save_load_predict_gives_identical_predictions(extended_run) -> None:
    run = load_run(extended_run, checkpoint="last")
    assert isinstance(run.net, AFENet)
    batch = next(iter(run.datamodule.test_dataloader()))
    # a second net built from the JSON plan alone, weights from the same checkpoint
    plan = AFEPlan.load(extended_run / "checkpoints" / PLAN_FILE)
    net = build_net(
        instantiate(run.config.model.net, _partial_=True), run.datamodule.feature_map, plan
    )
    load_net_weights(net, run.checkpoint)
    with torch.no_grad():
        expected = run.net(batch.features)
        assert torch.equal(net.eval()(batch.features), expected)
        # fields outside the plan are never read: scrambling them changes nothing
        scrambled = batch.features.clone()
        outside = [i for i, f in enumerate(run.datamodule.feature_map.field_names)
                   if f not in plan.field_names]  # fmt: skip
        scrambled[:, outside] = scrambled[:, outside].flip(0)
        assert torch.equal(run.net(scrambled), expected)
