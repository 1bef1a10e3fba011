"""Structural redundancy: pruning masks, batched neuron ablation, per-neuron MI, run loading."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from reaction.data.batch import Batch
from reaction.info.neurons import auc, hidden_activations, neuron_analysis, neuron_mi
from reaction.info.structural import (
    REPORT_FILE,
    StructuralConfig,
    dense_matrices,
    magnitude_pruned,
    predict,
    pruning_curve,
    structural_report,
    summarize_pruning,
)
from reaction.models import DNN, DCNv2
from reaction.models.layers.embedding import split_parameters
from reaction.runs.checkpoint import load_net_weights
from reaction.runs.load import load_run, load_run_config
from reaction.runs.run_dir import RunDir
from tests.model_configs import make_feature_map

FM = make_feature_map((30, 40, 50, 20))
ROWS = 600


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    features = torch.stack([torch.randint(0, v, (ROWS,), generator=g) for v in FM.vocab_sizes], 1)
    labels = (torch.rand(ROWS, generator=g) < 0.3).float()
    return features, labels


def _dnn(hidden: tuple[int, ...] = (16, 8)) -> nn.Module:
    torch.manual_seed(0)
    # A large init_std so logits vary: an untrained net would otherwise give ~tied scores.
    return DNN(FM, embedding_dim=4, hidden_units=hidden, init_std=0.5).eval()


def _state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("fraction", [0.1, 0.37, 0.9, 0.95])
def test_pruning_zeroes_round_p_n_smallest_dense_weights_and_restores_them(fraction: float) -> None:
    net = _dnn()
    before = _state(net)
    weights = dense_matrices(net)
    n = sum(p.numel() for p in weights)
    with magnitude_pruned(net, fraction) as zeroed:
        flat = torch.cat([p.detach().flatten() for p in weights])
        assert zeroed == round(fraction * n) == int((flat == 0).sum())
        original = torch.cat([before[k].flatten() for k in _matrix_keys(net)]).abs()
        assert original[flat == 0].max() <= original[flat != 0].min()
        for key in ("embedding.table.weight", "tower.layers.0.bias", "head.bias"):
            assert torch.equal(net.state_dict()[key], before[key]), key
    after = net.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)


def _matrix_keys(net: nn.Module) -> list[str]:
    ids = {id(p) for p in dense_matrices(net)}
    return [k for k, p in net.named_parameters() if id(p) in ids]


def test_embedding_table_is_never_pruned_even_when_it_holds_the_smallest_weights() -> None:
    net = DNN(FM, embedding_dim=4, hidden_units=(16,), init_std=1e-6)
    table = net.embedding.table.weight.detach().clone()
    embedding, dense = split_parameters(net)
    assert net.embedding.table.weight in embedding
    assert all(p is not net.embedding.table.weight for p in dense_matrices(net))
    with magnitude_pruned(net, 0.5):
        assert torch.equal(net.embedding.table.weight, table)


def test_pruning_curve_starts_at_the_unpruned_auc_and_leaves_the_net_unchanged() -> None:
    net, (features, labels) = _dnn(), _data()
    before = _state(net)
    config = StructuralConfig(prune_fractions=(0.5, 0.9), eval_batch_size=128)
    curve = pruning_curve(net, features, labels, config)
    assert curve["fractions"] == [0.0, 0.5, 0.9]
    assert curve["auc"][0] == auc(net(features), labels)
    n = curve["prunable_weights"]
    assert curve["zeroed_weights"] == [0, round(0.5 * n), round(0.9 * n)]
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())


def test_summary_reports_the_largest_fraction_keeping_the_auc_under_both_definitions() -> None:
    curve = {"fractions": [0.0, 0.5, 0.9, 0.95], "auc": [0.8, 0.799, 0.793, 0.7]}
    summary = summarize_pruning(curve, keep=0.985)
    # lift at 0.9: 0.293 / 0.3 = 0.977 < 0.985; ratio: 0.793 / 0.8 = 0.991 >= 0.985.
    assert summary["largest_fraction_lift"] == 0.5
    assert summary["largest_fraction_ratio"] == 0.9
    assert summary["lift_kept"][1] == pytest.approx(0.299 / 0.3)
    assert len(summary["statements"]) == 4


def _brute_force_drop(net: nn.Module, act: nn.Module, neuron: int, features, labels) -> float:
    """The slow reference: zero one neuron with a hook and run the whole net."""

    def zero(module: nn.Module, args: object, output: torch.Tensor) -> torch.Tensor:
        output = output.clone()
        output[:, neuron] = 0
        return output

    base = auc(net(features), labels)
    handle = act.register_forward_hook(zero)
    try:
        return base - auc(net(features), labels)
    finally:
        handle.remove()


@pytest.mark.parametrize("structure", ["dnn", "parallel", "stacked"])
@torch.no_grad()
def test_batched_ablation_equals_zeroing_each_neuron_in_a_full_forward(structure: str) -> None:
    torch.manual_seed(1)
    net = _dnn((12, 6))
    if structure != "dnn":
        net = DCNv2(FM, 4, structure=structure, hidden_units=(12, 6), init_std=0.5).eval()
    features, labels = _data(1)
    # 5 neurons per pass: layers of 12 and 6 neurons end with partial passes.
    result = neuron_analysis(net, features, labels, bins=8, pass_rows=5 * ROWS, negligible_drop=0)
    drops = {r["neuron"]: r["auc_drop"] for r in result["neurons"]}
    layers = hidden_activations(net)
    assert len(drops) == 12 + 6 and len(layers) == 2
    for name, act in layers:
        for neuron in (0, 3, 5):
            expected = _brute_force_drop(net, act, neuron, features, labels)
            assert drops[f"{name}:{neuron}"] == pytest.approx(expected, abs=1e-6)


@torch.no_grad()
def test_ablating_a_dead_neuron_costs_no_auc() -> None:
    net, (features, labels) = _dnn(), _data()
    first = net.tower.layers[0]
    first.weight[5] = 0.0
    first.bias[5] = -1.0  # ReLU(-1) = 0 on every row: the neuron is dead
    result = neuron_analysis(net, features, labels, bins=8, pass_rows=4096, negligible_drop=1e-4)
    dead = next(r for r in result["neurons"] if r["neuron"] == "tower.layers.1:5")
    assert dead["auc_drop"] == 0.0 and dead["constant"] and dead["mi_nats"] == 0.0
    assert result["summary"]["count"] == 24
    assert 1 / 24 <= result["summary"]["fraction_negligible"] <= 1


def test_neuron_mi_is_zero_ish_when_independent_and_h_y_when_equal_to_y() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(20_000) < 0.3).astype(np.int64)
    columns = np.stack(
        [rng.normal(size=y.size), y.astype(float), y + rng.normal(0, 0.01, y.size)], 1
    )
    mi = neuron_mi(columns, y, bins=10)
    p = y.mean()
    h_y = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert mi[0] < 3 * 9 / (2 * y.size)  # a few times the plug-in bias (bins - 1) / 2N
    assert mi[1] == pytest.approx(h_y, rel=1e-9)
    assert mi[2] == pytest.approx(h_y, rel=0.05)


def test_structural_report_writes_json_and_plots(tmp_path: Path) -> None:
    net, (features, labels) = _dnn(), _data()
    batches = [Batch(features[i : i + 256], labels[i : i + 256, None]) for i in range(0, ROWS, 256)]
    config = StructuralConfig(prune_fractions=(0.5,), max_val_rows=500, sample_rows=300)
    report = structural_report(net, batches, tmp_path, config)
    saved = json.loads((tmp_path / REPORT_FILE).read_text())
    assert saved["pruning"]["rows"] == 500 and saved["neuron_summary"]["sample_rows"] == 300
    assert saved["summary"]["auc_unpruned"] == report["pruning"]["auc"][0]
    assert saved["pruning"]["auc"][0] == auc(predict(net, features[:500], 64), labels[:500])
    assert (tmp_path / "structural_pruning.png").stat().st_size > 0
    assert (tmp_path / "structural_neurons.png").stat().st_size > 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prune_fractions": (1.0,)},
        {"prune_fractions": ()},
        {"activation_bins": 1},
        {"max_val_rows": 0},
        {"sample_rows": 0},
        {"keep": 1.5},
    ],
)
def test_structural_config_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        StructuralConfig(**kwargs)


def test_load_run_names_the_missing_config_and_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "results.json"))):
        load_run(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"config": {"paths": {"data_dir": "/d"}}}))
    last = tmp_path / "checkpoints" / "last.ckpt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(last))):
        RunDir(tmp_path).checkpoint("last")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "checkpoints"))):
        load_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        RunDir(tmp_path).checkpoint(tmp_path / "nowhere.ckpt")


def test_run_config_data_and_cache_roots_can_be_moved(tmp_path: Path) -> None:
    paths = {"data_dir": "/old/data", "cache_dir": "/old/data/cache"}
    data = {"raw_source": {"root": "/old/data/raw"}, "cache_root": "/old/data/cache"}
    config = {"paths": paths, "data": {"datamodule": data}, "other": "/old/database"}
    (tmp_path / "results.json").write_text(json.dumps({"config": config}))
    moved = load_run_config(tmp_path, data_dir="/new")
    assert moved.data.datamodule.raw_source.root == "/new/raw"
    assert moved.data.datamodule.cache_root == "/new/cache"
    assert moved.other == "/old/database"  # a prefix of the name, not of the path
    split = load_run_config(tmp_path, data_dir="/new", cache_dir="/fast/cache")
    assert split.data.datamodule.cache_root == "/fast/cache"
    assert split.paths.data_dir == "/new"


def test_best_checkpoint_is_found_in_the_run_dir_even_after_the_run_moved(tmp_path: Path) -> None:
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    best = ckpts / "epoch03-auc0.7000.ckpt"
    net = _dnn()
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, best)
    assert RunDir(tmp_path).checkpoint() == best  # no last.ckpt: the only other checkpoint
    recorded = {"ModelCheckpoint{}": {"best_model_path": "/gone/checkpoints/" + best.name}}
    torch.save({"callbacks": recorded, "state_dict": {}}, ckpts / "last.ckpt")
    torch.save({}, ckpts / "epoch01-auc0.6000.ckpt")
    assert RunDir(tmp_path).checkpoint("best") == best
    fresh = _dnn((16, 8))
    torch.nn.init.zeros_(fresh.head.weight)
    load_net_weights(fresh, best)
    assert torch.equal(fresh.head.weight, net.head.weight)
