"""Cost accounting: FLOPs and bytes equal hand counts; the report carries every key."""

from __future__ import annotations

import pytest
import torch

from reaction.cli.bench import median_step_ms, training_step
from reaction.data.schema import FeatureMap, FieldSpec
from reaction.metrics import keys
from reaction.metrics.costs import (
    cost_report,
    embedding_bytes_per_sample,
    flops_per_sample,
    measure_latency,
    random_features,
)
from reaction.models import DNN, LR, DCNv2
from reaction.models.layers.mlp import MLP

SMALL = FeatureMap(
    fields=tuple(FieldSpec(f"f{i}", "categorical", v) for i, v in enumerate((5, 7, 4))),
    dataset="test",
)


def test_random_features_are_valid_and_seeded() -> None:
    ids = random_features(SMALL, 512, seed=3)
    assert ids.shape == (512, 3) and ids.dtype == torch.long
    assert (ids >= 0).all()
    assert (ids.max(dim=0).values < torch.tensor(SMALL.vocab_sizes)).all()
    assert (ids == 0).any()  # special ids are valid inputs too
    assert torch.equal(ids, random_features(SMALL, 512, seed=3))
    assert not torch.equal(ids, random_features(SMALL, 512, seed=4))


def test_mlp_flops_are_two_times_in_times_out() -> None:
    mlp = MLP(9, (8, 4), batch_norm=True, output_dim=1)
    assert flops_per_sample(mlp, torch.randn(16, 9)) == 2 * (9 * 8 + 8 * 4 + 4 * 1)


def test_dnn_flops_match_hand_count_and_keep_train_mode() -> None:
    model = DNN(SMALL, embedding_dim=3, hidden_units=(8, 4))
    # embedding gathers are free for FlopCounterMode; Linear(i, o) costs 2*i*o per sample
    assert flops_per_sample(model, random_features(SMALL, 32)) == 2 * (9 * 8 + 8 * 4 + 4 * 1)
    assert model.training


@pytest.mark.parametrize(("low_rank", "cross"), [(None, 2 * (9 * 9)), (2, 2 * (9 * 2 + 2 * 9))])
def test_dcnv2_flops_match_hand_count(low_rank: int | None, cross: int) -> None:
    model = DCNv2(
        SMALL, embedding_dim=3, num_cross_layers=2, low_rank=low_rank, hidden_units=(8, 4)
    )
    deep = 9 * 8 + 8 * 4
    head = (9 + 4) * 1
    assert flops_per_sample(model, random_features(SMALL, 32)) == 2 * (cross + deep + head)


def test_lr_has_no_matmul_flops() -> None:
    assert flops_per_sample(LR(SMALL), random_features(SMALL, 8)) == 0


def test_embedding_bytes_are_fields_times_dim_times_itemsize() -> None:
    assert embedding_bytes_per_sample(DNN(SMALL, embedding_dim=3, hidden_units=(8,))) == 3 * 3 * 4
    assert embedding_bytes_per_sample(LR(SMALL)) == 3 * 1 * 4
    assert embedding_bytes_per_sample(LR(SMALL).double()) == 3 * 1 * 8


def test_measure_latency_is_positive_and_consistent() -> None:
    model = DNN(SMALL, embedding_dim=3, hidden_units=(8, 4))
    ms, samples_per_s = measure_latency(model, random_features(SMALL, 128), repeats=3, warmup=1)
    assert ms > 0
    assert samples_per_s == pytest.approx(128 / (ms / 1e3))
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(model, random_features(SMALL, 4), repeats=0)


def test_cost_report_has_every_key() -> None:
    model = DCNv2(SMALL, embedding_dim=3, num_cross_layers=2, hidden_units=(8, 4))
    report = cost_report(model, SMALL, batch_size=256, repeats=3, warmup=1)
    assert set(report) == set(keys.SERVING_COST_KEYS)
    assert report[keys.LATENCY_BATCH_SIZE] == 256
    assert report[keys.LATENCY_MS_PER_BATCH] > 0 and report[keys.THROUGHPUT] > 0
    assert report[keys.PARAMS_TOTAL] == report[keys.PARAMS_EMBEDDING] + report[keys.PARAMS_DENSE]
    assert model.training


def test_train_step_benchmark_times_real_updates() -> None:
    torch.manual_seed(0)
    net = DNN(SMALL, embedding_dim=4, hidden_units=(8,)).eval()
    before = [p.detach().clone() for p in net.parameters()]
    calls = []
    step = training_step(net, random_features(SMALL, 64, seed=1))
    ms = median_step_ms({"dnn": lambda: calls.append(1) or step()}, steps=3)["dnn"]
    assert ms > 0 and len(calls) == 4  # 3 timed steps after one untimed warm-up step
    assert net.training  # timed in training mode (dropout/batch norm as in training)
    assert all(not torch.equal(b, p) for b, p in zip(before, net.parameters(), strict=True))
