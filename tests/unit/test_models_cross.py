"""DCNv3, GDCN and FinalNet: parameter counts from the reference code's layer shapes, the
blocks' defining properties, Tri-BCE and the FINAL self-distillation terms, bad configs.

The generic properties (finite logits, gradients, overfitting, determinism, export, FLOPs) run
for the shipped configs in ``test_models.py``; here they also run for the variants the configs
do not cover. Each count below is written from the reference implementation's modules
(salmon1802/DCNv3 ``src/DCNv3.py``; reczoo/FuxiCTR ``model_zoo/GDCN/src/GDCN.py`` and
``model_zoo/FinalNet/src/FinalNet.py``), one term per reference module, not from our classes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss
from torch import nn

from reaction.data.batch import Batch
from reaction.lit.ctr_module import CTRModule
from reaction.metrics import keys
from reaction.metrics.costs import count_parameters, flops_per_sample, random_features
from reaction.models import GDCN, DCNv3, FinalNet
from reaction.models.layers.branch_losses import block_self_distillation, tri_bce
from reaction.models.layers.gated_cross import GatedCrossNet
from reaction.models.layers.interactions import CrossNetV2
from reaction.models.layers.self_mask_cross import SelfMaskCrossNet
from tests.model_configs import WIDE, make_feature_map

SMALL = make_feature_map((5, 7, 4))  # F = 3, 16 embedding rows
ROWS, F, D = 16, 3, 4
d = F * D  # 12


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


# ---- parameter counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
def test_gdcn_parameter_count_follows_fuxictr(structure: str) -> None:
    # GateCorssLayer: per layer w (d x d, no bias), wg (d x d, no bias), b (d).
    cross = 2 * (_linear(d, d, bias=False) + _linear(d, d, bias=False) + d)
    if structure == "stacked":  # GDCN: MLP_Block(d, [8, 4], output_dim=1) on the cross output
        dense = cross + _linear(d, 8) + _linear(8, 4) + _linear(4, 1)
    else:  # GDCNP: MLP_Block(d, [8, 4]) and fc over [cross || mlp]
        dense = cross + _linear(d, 8) + _linear(8, 4) + _linear(4 + d, 1)
    model = GDCN(
        SMALL, embedding_dim=D, structure=structure, num_cross_layers=2, hidden_units=(8, 4)
    )
    assert count_parameters(model) == {
        keys.PARAMS_TOTAL: ROWS * D + dense,
        keys.PARAMS_EMBEDDING: ROWS * D,
        keys.PARAMS_DENSE: dense,
    }


@pytest.mark.parametrize(
    ("heads", "layer_norm", "batch_norm"), [(1, True, False), (2, True, True), (1, False, False)]
)
def test_dcnv3_parameter_count_follows_the_reference(
    heads: int, layer_norm: bool, batch_norm: bool
) -> None:
    # MultiHeadFeatureEmbedding: one table of width D * heads. Per cross layer (ECN and LCN
    # alike): w Linear(d, d/2, no bias), b (d), LayerNorm(d/2) (2 * d/2), BatchNorm1d(heads).
    layer = _linear(d, d // 2, bias=False) + d + (d if layer_norm else 0)
    layer += 2 * heads if batch_norm else 0
    dense = (2 + 3) * layer + 2 * _linear(d, 1)  # 2 ECN + 3 LCN layers, dfc and sfc
    model = DCNv3(
        SMALL,
        embedding_dim=D,
        num_heads=heads,
        num_deep_cross_layers=2,
        num_shallow_cross_layers=3,
        layer_norm=layer_norm,
        batch_norm=batch_norm,
    )
    counts = count_parameters(model)
    assert counts[keys.PARAMS_EMBEDDING] == ROWS * D * heads
    assert counts[keys.PARAMS_DENSE] == dense


@pytest.mark.parametrize(
    ("block_type", "gating", "residual"),
    [("2B", True, "concat"), ("1B", False, "concat"), ("2B", False, "sum")],
)
def test_final_net_parameter_count_follows_fuxictr(
    block_type: str, gating: bool, residual: str
) -> None:
    # FeatureGating: Linear(F, F). FactorizedInteraction(in, out): Linear(in, out) for concat,
    # Linear(in, 2 out) for sum; BatchNorm1d(out) after each; fc1 / fc2: Linear(last, 1).
    width = 2 if residual == "sum" else 1

    def block(n_in: int) -> int:
        return _linear(n_in, 8 * width) + 2 * 8 + _linear(8, 6 * width) + 2 * 6 + _linear(6, 1)

    dense = (_linear(F, F) if gating else 0) + block(2 * d if gating else d)
    dense += block(d) if block_type == "2B" else 0
    model = FinalNet(
        SMALL,
        embedding_dim=D,
        block_type=block_type,
        use_field_gating=gating,
        block1_hidden_units=(8, 6),
        block2_hidden_units=(8, 6),
        residual=residual,
    )
    counts = count_parameters(model)
    assert (counts[keys.PARAMS_EMBEDDING], counts[keys.PARAMS_DENSE]) == (ROWS * D, dense)


# ---- the blocks' defining properties ------------------------------------------------------------


def test_gated_cross_with_closed_gates_is_dcn_v2_at_half_weight() -> None:
    # sigmoid(0) = 1/2: zero gate maps give c_0 * (W c + b) / 2 + c, DCN-V2's layer at W/2, b/2.
    torch.manual_seed(0)
    gated, plain = GatedCrossNet(d, num_layers=2), CrossNetV2(d, num_layers=2)
    with torch.no_grad():
        for gate, cross, bias, layer in zip(
            gated.gates, gated.cross, gated.biases, plain.layers, strict=True
        ):
            gate.weight.zero_()
            layer.weight.copy_(cross.weight / 2)
            layer.bias.copy_(bias / 2)
    x0 = torch.randn(5, d)
    torch.testing.assert_close(gated(x0), plain(x0))


def test_exponential_and_linear_cross_agree_on_one_layer_and_part_after_two() -> None:
    # Layer 1 crosses x_0 with x_1 = x_0 in both networks; from layer 2 ECN crosses x_l with itself.
    x0 = torch.randn(4, 2, d)
    outputs = {}
    for layers in (1, 2):
        torch.manual_seed(0)
        ecn = SelfMaskCrossNet(d, layers, exponential=True, num_heads=2)
        torch.manual_seed(0)
        lcn = SelfMaskCrossNet(d, layers, exponential=False, num_heads=2)
        outputs[layers] = (ecn(x0), lcn(x0))
    torch.testing.assert_close(*outputs[1])
    assert not torch.allclose(*outputs[2])


# ---- training terms ------------------------------------------------------------------------------


def _bce(logits: np.ndarray, labels: np.ndarray) -> float:
    return log_loss(labels, 1 / (1 + np.exp(-logits)), labels=[0, 1])


def test_tri_bce_weights_each_branch_by_its_excess_over_the_ensemble() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64).astype(np.float32)
    deep = (2 * labels - 1) * 2 + rng.normal(0, 1, 64)  # a good branch
    shallow = rng.normal(0, 2, 64)  # a poor one
    loss = _bce((deep + shallow) / 2, labels)
    loss_d, loss_s = _bce(deep, labels), _bce(shallow, labels)
    expected = loss_d * max(loss_d - loss, 0) + loss_s * max(loss_s - loss, 0)
    assert loss_d < loss < loss_s  # so only the shallow branch is pushed
    t = [torch.tensor(a, dtype=torch.float32) for a in (deep, shallow, labels)]
    assert tri_bce(*t).item() == pytest.approx(expected, rel=1e-4)
    assert tri_bce(t[0], t[0], t[2]).item() == 0.0  # identical branches: the ensemble's BCE


def test_ctr_module_trains_dcnv3_on_the_full_tri_bce() -> None:
    torch.manual_seed(0)
    model = DCNv3(SMALL, embedding_dim=D, deep_dropout=0.0, shallow_dropout=0.0)
    features = random_features(SMALL, 32, seed=1)
    labels = torch.randint(0, 2, (32, 1), generator=torch.Generator().manual_seed(1)).float()
    deep, shallow = (b.detach().numpy() for b in model._branches(features))
    y = labels[:, 0].numpy()
    loss = _bce((deep + shallow) / 2, y)
    loss_d, loss_s = _bce(deep, y), _bce(shallow, y)
    expected = loss + loss_d * max(loss_d - loss, 0) + loss_s * max(loss_s - loss, 0)
    module = CTRModule(model)
    module.log = lambda *args, **kwargs: None
    total = module.training_step(Batch(features, labels), 0)
    assert total.item() == pytest.approx(expected, rel=1e-4)


def test_dcnv3_returns_its_tri_bce_only_in_training() -> None:
    model = DCNv3(SMALL, embedding_dim=D)
    features = random_features(SMALL, 8)
    assert set(model.forward_train(features).label_losses) == {"tri_bce"}
    model.eval()
    out = model.forward_train(features)
    assert out.label_losses == {} and torch.equal(out.logits[0], model(features))


def test_final_net_distils_both_blocks_towards_their_mean_in_training_only() -> None:
    torch.manual_seed(0)
    model = FinalNet(SMALL, embedding_dim=D, block1_hidden_units=(8,), block2_hidden_units=(8,))
    features = random_features(SMALL, 16)
    out = model.forward_train(features)
    served = out.logits[0]
    (name, term), *rest = out.aux_losses.items()
    assert (name, rest) == ("distillation", [])
    e = model.embedding(features)
    first = model.head1(model.block1(model.gating(e).flatten(1))).squeeze(-1)
    second = model.head2(model.block2(e.flatten(1))).squeeze(-1)
    torch.testing.assert_close(served, (first + second) / 2)
    p = torch.sigmoid(served).detach().numpy()  # the soft target, the served probability

    def soft_bce(q: torch.Tensor) -> float:
        q = torch.sigmoid(q).detach().numpy()
        return float(np.mean(-(p * np.log(q) + (1 - p) * np.log(1 - q))))

    expected = soft_bce(first) + soft_bce(second)
    assert term.item() == pytest.approx(expected, rel=1e-4)
    torch.testing.assert_close(term, block_self_distillation(first, second))
    model.eval()
    assert model.forward_train(features).aux_losses == {}


# ---- variants the shipped configs do not cover ---------------------------------------------------

VARIANTS: dict[str, Callable[[], nn.Module]] = {
    "gdcn_parallel": lambda: GDCN(
        WIDE, embedding_dim=4, structure="parallel", hidden_units=(16, 8)
    ),
    "gcn_only": lambda: GDCN(WIDE, embedding_dim=4, hidden_units=()),
    "dcnv3_heads_bn": lambda: DCNv3(WIDE, embedding_dim=4, num_heads=2, batch_norm=True),
    "final_net_1b_sum": lambda: FinalNet(
        WIDE,
        embedding_dim=4,
        block_type="1B",
        use_field_gating=False,
        residual="sum",
        block1_hidden_units=(16, 8),
        activation="relu",
    ),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_gives_finite_logits_gradients_and_overfits(name: str) -> None:
    torch.manual_seed(0)
    model = VARIANTS[name]()
    features = random_features(WIDE, 64, seed=0)
    labels = torch.randint(0, 2, (64,), generator=torch.Generator().manual_seed(0)).float()
    bce = nn.functional.binary_cross_entropy_with_logits
    bce(model(features), labels).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.eval()
    start = bce(model(features), labels).item()
    model.train()
    for _ in range(100):
        optimizer.zero_grad()
        bce(model(features), labels).backward()
        optimizer.step()
    model.eval()
    assert torch.isfinite(model(features)).all()
    assert bce(model(features), labels).item() < 0.5 * start
    assert flops_per_sample(model, features[:8]) > 0


# ---- bad configs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DCNv3(make_feature_map((5, 7, 4)), embedding_dim=3), "input_dim must be even"),
        (lambda: DCNv3(SMALL, num_heads=0), "num_heads must be >= 1, got 0"),
        (lambda: GDCN(SMALL, structure="parallel", hidden_units=()), "parallel GDCN needs a deep"),
        (lambda: GDCN(SMALL, structure="mixed"), "structure must be 'stacked' or 'parallel'"),
        (lambda: FinalNet(SMALL, block_type="3B"), "block_type must be '1B' or '2B', got '3B'"),
        (lambda: FinalNet(SMALL, block1_hidden_units=(7,)), "needs an even width, got 7"),
        (lambda: FinalNet(SMALL, block2_hidden_units=()), "at least one hidden width"),
        (lambda: FinalNet(SMALL, activation="swish"), "activation must be one of"),
    ],
)
def test_bad_configs_are_rejected_with_the_value(
    build: Callable[[], nn.Module], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build()
