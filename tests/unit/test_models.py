"""Every model: hand-counted parameters, finite (B,) logits, gradients, overfitting, determinism."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from reaction.metrics import keys
from reaction.metrics.costs import count_parameters, flops_per_sample, random_features
from reaction.models import DNN, LR, DCNv2
from tests.model_configs import (
    CONFIGS,
    WIDE,
    TrainingView,
    load_model_node,
    make_feature_map,
    model_from_config,
    training_loss,
)

SMALL = make_feature_map((5, 7, 4))  # d = F * D = 3 * 3 = 9 with D = 3
SMALL_KW = {"embedding_dim": 3, "hidden_units": (8, 4)}


def _counts(embedding: int, dense: int) -> dict[str, int]:
    return {
        keys.PARAMS_TOTAL: embedding + dense,
        keys.PARAMS_EMBEDDING: embedding,
        keys.PARAMS_DENSE: dense,
    }


def test_lr_parameter_count() -> None:
    emb = 5 + 7 + 4  # one weight per (field, id)
    assert count_parameters(LR(SMALL)) == _counts(emb, 1)  # + bias


@pytest.mark.parametrize("batch_norm", [False, True])
def test_dnn_parameter_count(batch_norm: bool) -> None:
    emb = (5 + 7 + 4) * 3
    mlp = (9 * 8 + 8) + (8 * 4 + 4)
    bn = (2 * 8 + 2 * 4) if batch_norm else 0  # gamma and beta; running stats are buffers
    head = 4 + 1
    model = DNN(SMALL, **SMALL_KW, batch_norm=batch_norm)
    assert count_parameters(model) == _counts(emb, mlp + bn + head)


@pytest.mark.parametrize(
    ("structure", "low_rank", "cross", "head"),
    [
        ("parallel", None, 2 * (9 * 9 + 9), (9 + 4) + 1),
        ("stacked", None, 2 * (9 * 9 + 9), 4 + 1),
        ("parallel", 2, 2 * (2 * 9 * 2 + 9), (9 + 4) + 1),  # U (9x2) + V (9x2) + b (9)
        ("stacked", 2, 2 * (2 * 9 * 2 + 9), 4 + 1),
    ],
)
def test_dcnv2_parameter_count(structure: str, low_rank: int | None, cross: int, head: int) -> None:
    emb = (5 + 7 + 4) * 3
    mlp = (9 * 8 + 8) + (8 * 4 + 4)  # the deep part reads x_0 (parallel) or the cross output
    model = DCNv2(SMALL, **SMALL_KW, structure=structure, num_cross_layers=2, low_rank=low_rank)
    assert count_parameters(model) == _counts(emb, cross + mlp + head)


def test_dcnv2_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="structure"):
        DCNv2(SMALL, structure="serial")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hidden_units"):
        DCNv2(SMALL, structure="parallel", hidden_units=())


VARIANTS: dict[str, Callable[[], nn.Module]] = {
    "dnn_bn_dropout": lambda: DNN(
        WIDE, embedding_dim=4, hidden_units=(16, 8), dropout=0.1, batch_norm=True
    ),
    "dcnv2_low_rank": lambda: DCNv2(
        WIDE, embedding_dim=4, num_cross_layers=2, low_rank=4, hidden_units=(16, 8)
    ),
    "crossnet_only": lambda: DCNv2(WIDE, embedding_dim=4, structure="stacked", hidden_units=()),
}
# Every shipped model config plus variants the configs do not cover.
MODELS: dict[str, Callable[[], nn.Module]] = {
    **{path.stem: (lambda path=path: model_from_config(path)) for path in CONFIGS},
    **VARIANTS,
}


def _batch(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    features = random_features(WIDE, n, seed=seed)
    labels = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(seed)).float()
    return features, labels


@pytest.mark.parametrize("name", MODELS)
def test_finite_logits_and_every_parameter_gets_a_gradient(name: str) -> None:
    torch.manual_seed(0)
    model = MODELS[name]()
    features, labels = _batch(32)
    logits = model(features)
    assert logits.shape == (32,)
    assert torch.isfinite(logits).all()
    training_loss(TrainingView(model)(features), labels).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", MODELS)
def test_loss_falls_when_overfitting_one_batch(name: str) -> None:
    torch.manual_seed(0)
    model = MODELS[name]()
    features, labels = _batch(64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    bce = nn.functional.binary_cross_entropy_with_logits

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            loss = bce(model(features), labels).item()
        model.train()
        return loss

    start = eval_loss()
    for _ in range(100):
        optimizer.zero_grad()
        bce(model(features), labels).backward()
        optimizer.step()
    assert eval_loss() < 0.5 * start


@pytest.mark.parametrize("name", MODELS)
def test_output_is_deterministic_for_a_fixed_seed(name: str) -> None:
    features, _ = _batch(16)
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        outputs.append(MODELS[name]().eval()(features))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_model_configs_instantiate(config: Path) -> None:
    cfg = load_model_node(config)
    assert cfg.name == config.stem
    # Runtime objects go in through a partial: ``instantiate(cfg, feature_map=fm)`` would make
    # Hydra convert the FeatureMap dataclass into a config node (it fails on ``extra``).
    model = instantiate(cfg.net, _partial_=True)(feature_map=SMALL)
    logits = model(random_features(SMALL, 4))
    assert logits.shape == (4,)


@pytest.mark.parametrize("name", MODELS)
def test_models_export_with_torch_export(name: str) -> None:
    # The id check in FieldEmbedding is eager-only, so graphs capture without data-dependent ops.
    # What is exported is what is served: a multi-tower model's served tower.
    torch.manual_seed(0)
    model = MODELS[name]().served().eval()
    features, _ = _batch(8)
    exported = torch.export.export(model, (features,))
    torch.testing.assert_close(exported.module()(features), model(features))


@pytest.mark.parametrize("name", MODELS)
def test_flops_are_countable_for_every_model(name: str) -> None:
    # FlopCounterMode hooks every module's inputs; the cost report of a run relies on it. Only
    # matmul-like ops count, so LR and FM (gathers and element-wise products) report 0.
    flops = flops_per_sample(MODELS[name](), random_features(WIDE, 8))
    assert flops > 0 or name in ("lr", "fm")
