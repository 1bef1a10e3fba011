"""FinalMLP, AutoDis and APG: hand-counted parameters, a reference count, variants, bad configs.

The generic properties (finite logits, gradients, overfitting, determinism, export, configs) run
for the shipped configs in ``test_models.py``; here the variants the configs do not cover.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from reaction.data.schema import FeatureMap, FieldSpec
from reaction.metrics import keys
from reaction.metrics.costs import count_parameters, random_features
from reaction.models.apg import APG
from reaction.models.autodis import AutoDis
from reaction.models.dnn import DNN
from reaction.models.final_mlp import FinalMLP
from tests.model_configs import WIDE, make_feature_map

SMALL = make_feature_map((5, 7, 4))  # d = F * D = 3 * 3 = 9 with D = 3
EMB = (5 + 7 + 4) * 3
FINAL_KW = {
    "embedding_dim": 3,
    "mlp1_hidden_units": (8, 4),
    "mlp2_hidden_units": (6,),
    "fs_hidden_units": (5,),
    "num_heads": 2,
}
APG_KW = {"embedding_dim": 3, "hidden_units": (8, 4), "rank": 2, "hypernet_hidden_units": (5,)}


def _counts(embedding: int, dense: int) -> dict[str, int]:
    return {
        keys.PARAMS_TOTAL: embedding + dense,
        keys.PARAMS_EMBEDDING: embedding,
        keys.PARAMS_DENSE: dense,
    }


# ---- FinalMLP ----------------------------------------------------------------------------------

MLP1 = (9 * 8 + 8) + (8 * 4 + 4)
MLP2 = 9 * 6 + 6
FUSION = (4 + 1) + (6 + 1) + 2 * (2 * 3)  # w_1 + b, w_2 + b, 2 heads of (4/2) x (6/2)


def test_final_mlp_parameter_count_with_global_gates() -> None:
    gate = 3 + (3 * 5 + 5) + (5 * 9 + 9)  # learned context (D), hidden, output over F*D
    model = FinalMLP(SMALL, **FINAL_KW)
    assert count_parameters(model) == _counts(EMB, MLP1 + MLP2 + FUSION + 2 * gate)


def test_final_mlp_parameter_count_with_context_gates() -> None:
    gate1 = (3 * 5 + 5) + (5 * 9 + 9)  # context f0: 1 field x D
    gate2 = (6 * 5 + 5) + (5 * 9 + 9)  # context f1, f2: 2 fields x D
    context_emb = 5 * 3 + (7 + 4) * 3  # each gate's own table
    model = FinalMLP(SMALL, **FINAL_KW, fs1_context=("f0",), fs2_context=("f1", "f2"))
    dense = MLP1 + MLP2 + FUSION + gate1 + gate2
    assert count_parameters(model) == _counts(EMB + context_emb, dense)


def test_final_mlp_without_feature_selection_is_dual_mlp_with_fusion() -> None:
    model = FinalMLP(SMALL, **FINAL_KW, use_fs=False)
    assert count_parameters(model) == _counts(EMB, MLP1 + MLP2 + FUSION)


# Reference: FuxiCTR 2.3.10 layers (pip fuxictr==2.3.10: FeatureEmbedding, MLP_Block, BaseModel)
# with the model class from reczoo/FuxiCTR model_zoo/FinalMLP/src/FinalMLP.py at commit
# 2c89b9dd7068839a6cd0150a7c4d77fd1219d77d, on four categorical fields f0..f3 with vocab sizes
# (5, 7, 4, 9), counted as sum(p.numel()) over trainable parameters (BaseModel.count_parameters).
# Produced by tools/reference_param_counts_finalmlp.py, which also holds the hyperparameters
# (FuxiCTR's argument names are ours). Counts agree term by term, including FuxiCTR's two fusion
# biases (w_x.bias and w_y.bias) and its separate embedding tables for gate context fields.
REFERENCE_VOCAB = (5, 7, 4, 9)
FUXICTR_FINALMLP_COUNTS: list[tuple[dict[str, object], int]] = [
    (FINAL_KW, 507),
    (
        FINAL_KW | {"mlp1_batch_norm": True, "fs1_context": ("f0",), "fs2_context": ("f1", "f2")},
        588,
    ),
    (
        {
            "embedding_dim": 16,
            "mlp1_hidden_units": (400, 400, 400),
            "mlp2_hidden_units": (1000,),
            "fs_hidden_units": (800,),
            "num_heads": 200,
        },
        545362,
    ),
]


@pytest.mark.parametrize(("params", "reference"), FUXICTR_FINALMLP_COUNTS)
def test_final_mlp_matches_fuxictr_parameter_count(params: dict, reference: int) -> None:
    model = FinalMLP(make_feature_map(REFERENCE_VOCAB), **params)
    assert count_parameters(model)[keys.PARAMS_TOTAL] == reference


def test_final_mlp_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match=r"num_heads=3 must divide .* 4 and 6"):
        FinalMLP(SMALL, **FINAL_KW | {"num_heads": 3})
    with pytest.raises(
        ValueError, match=r"fs2_context names fields not in the feature map: \['x'\]"
    ):
        FinalMLP(SMALL, **FINAL_KW, fs2_context=("x",))
    with pytest.raises(ValueError, match="fs1_context repeats fields"):
        FinalMLP(SMALL, **FINAL_KW, fs1_context=("f0", "f0"))
    with pytest.raises(ValueError, match=r"fs1_context=\['f0'\] .* need use_fs=True"):
        FinalMLP(SMALL, **FINAL_KW, use_fs=False, fs1_context=("f0",))


# ---- AutoDis -----------------------------------------------------------------------------------

MIXED = FeatureMap(
    fields=(
        FieldSpec("n0", "numeric", 5),
        FieldSpec("c0", "categorical", 7),
        FieldSpec("n1", "numeric", 4),
    ),
    extra={"numeric": {"bucket_values": {"n0": [1.0, 2.0, 4.0], "n1": [0.0, 10.0]}}},
)


def test_autodis_parameter_count() -> None:
    h, d = 4, 3
    autodis = 2 * (h + h + h * h + h * d)  # per numeric field: w, b, W, meta-embeddings
    special = 2 * 2 * d  # per numeric field: missing and OOV rows
    mlp = (3 * d * 8 + 8) + (8 * 4 + 4)
    model = AutoDis(MIXED, embedding_dim=d, num_meta_embeddings=h, hidden_units=(8, 4))
    assert count_parameters(model) == _counts(7 * d + special, autodis + mlp + 4 + 1)


def test_autodis_without_numeric_fields_counts_as_dnn() -> None:
    kw = {"embedding_dim": 3, "hidden_units": (8, 4)}
    assert count_parameters(AutoDis(SMALL, **kw)) == count_parameters(DNN(SMALL, **kw))


def test_autodis_numeric_field_without_bucket_values_is_named() -> None:
    no_values = FeatureMap(
        fields=MIXED.fields, extra={"numeric": {"bucket_values": {"n0": [1, 2, 3]}}}
    )
    with pytest.raises(ValueError, match="numeric field 'n1' has no bucket values"):
        AutoDis(no_values)
    with pytest.raises(ValueError, match="numeric field 'n0' has no bucket values"):
        AutoDis(FeatureMap(fields=MIXED.fields))
    with pytest.raises(ValueError, match="temperature must be > 0, got -1.0"):
        AutoDis(MIXED, temperature=-1.0)


def test_autodis_reads_magnitudes_not_bucket_rows() -> None:
    # Two value ids of the same field differ only through their scalars.
    torch.manual_seed(0)
    model = AutoDis(MIXED, embedding_dim=3, init_std=1.0, hidden_units=(8,)).eval()
    ids = torch.tensor([[2, 3, 2], [4, 3, 2]])
    weights = model.numeric.weights(ids[:, [0, 2]])
    assert not torch.allclose(weights[0, 0], weights[1, 0])
    torch.testing.assert_close(weights[0, 1], weights[1, 1])


# ---- APG ---------------------------------------------------------------------------------------


def _apg_layer(in_dim: int, out_dim: int, condition: int, factors: int) -> int:
    hypernet = (condition * 5 + 5) + (5 * 4 + 4)  # -> K^2 = 4 entries of S_x
    return hypernet + factors + out_dim  # + shared bias


def test_apg_parameter_count() -> None:
    layers = _apg_layer(9, 8, 9, 8 * 2 + 2 * 9) + _apg_layer(8, 4, 9, 4 * 2 + 2 * 8)
    assert count_parameters(APG(SMALL, **APG_KW)) == _counts(EMB, layers + 4 + 1)


def test_apg_parameter_count_overparameterised() -> None:
    # U = U_l (out x P) U_r (P x K), V = V_l (K x P) V_r (P x in), P = 3
    layer1 = _apg_layer(9, 8, 9, 8 * 3 + 3 * 2 + 2 * 3 + 3 * 9)
    layer2 = _apg_layer(8, 4, 9, 4 * 3 + 3 * 2 + 2 * 3 + 3 * 8)
    model = APG(SMALL, **APG_KW, overparam_dim=3)
    assert count_parameters(model) == _counts(EMB, layer1 + layer2 + 4 + 1)


def test_apg_parameter_count_with_condition_fields() -> None:
    layers = _apg_layer(9, 8, 3, 8 * 2 + 2 * 9) + _apg_layer(8, 4, 3, 4 * 2 + 2 * 8)
    model = APG(SMALL, **APG_KW, condition_fields=("f1",))
    assert count_parameters(model) == _counts(EMB, layers + 4 + 1)


def test_apg_weights_depend_only_on_the_condition_fields() -> None:
    torch.manual_seed(0)
    model = APG(SMALL, **APG_KW | {"init_std": 1.0}, condition_fields=("f1",))
    ids = torch.tensor([[0, 3, 1], [4, 3, 2], [0, 5, 1]])
    condition = model.embedding(ids)[:, 1]
    cores = model.tower.linears[0].core(condition)
    torch.testing.assert_close(cores[0], cores[1])  # same f1, other fields differ
    assert not torch.allclose(cores[0], cores[2])  # only f1 differs


def test_apg_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match=r"condition_fields names fields not in .*\['zz'\]"):
        APG(SMALL, **APG_KW, condition_fields=("zz",))
    with pytest.raises(ValueError, match="rank must be >= 1, got 0"):
        APG(SMALL, **APG_KW | {"rank": 0})
    with pytest.raises(ValueError, match="overparam_dim must be >= rank=2 or None, got 1"):
        APG(SMALL, **APG_KW, overparam_dim=1)


# ---- variants the shipped configs do not cover -------------------------------------------------

VARIANTS: dict[str, Callable[[], nn.Module]] = {
    "final_mlp_context_gates": lambda: FinalMLP(
        WIDE, **FINAL_KW | {"embedding_dim": 4}, fs1_context=("c0",), fs2_context=("n0", "c1")
    ),
    "final_mlp_no_fs": lambda: FinalMLP(WIDE, **FINAL_KW | {"embedding_dim": 4}, use_fs=False),
    "autodis_bn_dropout": lambda: AutoDis(
        WIDE, embedding_dim=4, hidden_units=(16, 8), dropout=0.1, batch_norm=True
    ),
    "apg_overparam_condition": lambda: APG(
        WIDE, **APG_KW | {"embedding_dim": 4}, overparam_dim=4, condition_fields=("c0", "n1")
    ),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_gives_finite_logits_gradients_and_exports(name: str) -> None:
    torch.manual_seed(0)
    model = VARIANTS[name]()
    features = random_features(WIDE, 64, seed=1)
    labels = torch.randint(0, 2, (64,), generator=torch.Generator().manual_seed(1)).float()
    logits = model(features)
    assert logits.shape == (64,)
    assert torch.isfinite(logits).all()
    nn.functional.binary_cross_entropy_with_logits(logits, labels).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname
    model.eval()
    exported = torch.export.export(model, (features[:8],))
    torch.testing.assert_close(exported.module()(features[:8]), model(features[:8]))
