"""FM-family and classic deep CTR baselines: hand-counted and FuxiCTR-referenced parameter counts,
composition properties and constructor validation. Generic properties (finite logits, gradients,
overfitting, determinism, export, config instantiation) run for every config in test_models.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from reaction.data.schema import FeatureMap, FieldSpec
from reaction.metrics import keys
from reaction.metrics.costs import count_parameters, random_features
from reaction.models.dcn import DCN
from reaction.models.dcn_v2 import DCNv2
from reaction.models.deepfm import DeepFM
from reaction.models.fm import FM
from reaction.models.fmfm import FmFM
from reaction.models.fwfm import FwFM
from reaction.models.lr import LR
from reaction.models.pnn import PNN
from reaction.models.wide_deep import WideDeep


def make_feature_map(vocab_sizes: tuple[int, ...]) -> FeatureMap:
    fields = tuple(FieldSpec(f"f{i}", "categorical", v) for i, v in enumerate(vocab_sizes))
    return FeatureMap(fields=fields, dataset="test")


SMALL = make_feature_map((5, 7, 4))  # F = 3, P = 3 field pairs, d = F * D = 9 with D = 3
HIDDEN = (8, 4)
EMB = (5 + 7 + 4) * 3  # the FieldEmbedding table
FIRST = (5 + 7 + 4) + 1  # FirstOrder: one weight per (field, id), plus the bias (dense)
MLP = (9 * 8 + 8) + (8 * 4 + 4)  # tower on the flattened embeddings


def _counts(embedding: int, dense: int) -> dict[str, int]:
    return {
        keys.PARAMS_TOTAL: embedding + dense,
        keys.PARAMS_EMBEDDING: embedding,
        keys.PARAMS_DENSE: dense,
    }


@pytest.mark.parametrize(
    ("build", "embedding", "dense"),
    [
        (lambda: FM(SMALL, 3), EMB + FIRST - 1, 1),
        (lambda: FwFM(SMALL, 3), EMB + FIRST - 1, 1 + 3),  # + r_ij per field pair
        (lambda: FmFM(SMALL, 3), EMB + FIRST - 1, 1 + 3 * 3 * 3),  # + a 3x3 M_ij per pair
        # The first-order bias is the model's one bias: the deep heads have none.
        (lambda: WideDeep(SMALL, 3, HIDDEN), EMB + FIRST - 1, 1 + MLP + 4),
        (lambda: DeepFM(SMALL, 3, HIDDEN), EMB + FIRST - 1, 1 + MLP + 4),
        # The tower reads [embeddings (9) || inner products (3)].
        (lambda: PNN(SMALL, 3, HIDDEN), EMB, ((9 + 3) * 8 + 8) + (8 * 4 + 4) + (4 + 1)),
        # Cross layers: w_l and b_l (9 + 9 each); head reads [cross (9) || deep (4)].
        (lambda: DCN(SMALL, 3, 2, HIDDEN), EMB, 2 * (9 + 9) + MLP + (9 + 4 + 1)),
        (lambda: DCN(SMALL, 3, 2, hidden_units=()), EMB, 2 * (9 + 9) + (9 + 1)),
    ],
    ids=["fm", "fwfm", "fmfm", "wide_deep", "deepfm", "pnn", "dcn", "dcn_cross_only"],
)
def test_parameter_count_matches_hand_computation(
    build: Callable[[], nn.Module], embedding: int, dense: int
) -> None:
    assert count_parameters(build()) == _counts(embedding, dense)


# Reference: FuxiCTR 2.3.10 (pip layers: FeatureEmbedding, FactorizationMachine, MLP_Block,
# CrossNet, CrossNetV2, InnerProductInteraction) with the model classes of the reczoo/FuxiCTR
# GitHub repo (model_zoo/<Model>/[<Model>_torch/]src/<Model>.py, read at commits 2c89b9d/0245987),
# instantiated on a hand-built FuxiCTR FeatureMap with the same categorical vocabularies and
# hyperparameters, counted with BaseModel.count_parameters (trainable numel).
# tools/reference_param_counts.py reruns it. Hyperparameters, as FuxiCTR kwargs:
#   small:    vocab (5, 7, 4), embedding_dim 3, hidden units [8, 4], num_cross_layers 2
#   criteo39: vocab (10, 11, ..., 48), embedding_dim 16, hidden units [400, 400, 400],
#             num_cross_layers 3 (our conf/model defaults)
#   DeepFM: hidden_units; DCNv2: model_structure "parallel" + parallel_dnn_hidden_units or
#   "stacked" + stacked_dnn_hidden_units, no low-rank mixture; DCN: dnn_hidden_units;
#   FwFM: linear_type "LW" (FuxiCTR's default is "FiLV"); FmFM: field_interaction_type "matrixed".
# Only DeepFM differs: FuxiCTR's has two biases (LogisticRegression(use_bias=True) inside
# FactorizationMachine and the MLP_Block output layer); ours has one, as the paper's y_FM + y_DNN.
REFERENCE_SCHEMAS = {
    "small": (make_feature_map((5, 7, 4)), {"embedding_dim": 3, "hidden": (8, 4), "cross": 2}),
    "criteo39": (
        make_feature_map(tuple(10 + i for i in range(39))),
        {"embedding_dim": 16, "hidden": (400, 400, 400), "cross": 3},
    ),
}
REFERENCE_BUILDERS: dict[str, Callable[[FeatureMap, dict], nn.Module]] = {
    "fm": lambda fm, h: FM(fm, h["embedding_dim"]),
    "fwfm": lambda fm, h: FwFM(fm, h["embedding_dim"]),
    "fmfm": lambda fm, h: FmFM(fm, h["embedding_dim"]),
    "wide_deep": lambda fm, h: WideDeep(fm, h["embedding_dim"], h["hidden"]),
    "deepfm": lambda fm, h: DeepFM(fm, h["embedding_dim"], h["hidden"]),
    "pnn": lambda fm, h: PNN(fm, h["embedding_dim"], h["hidden"]),
    "dcn": lambda fm, h: DCN(fm, h["embedding_dim"], h["cross"], h["hidden"]),
    "dcnv2": lambda fm, h: DCNv2(fm, h["embedding_dim"], "parallel", h["cross"], None, h["hidden"]),
    "dcnv2_stacked": lambda fm, h: DCNv2(
        fm, h["embedding_dim"], "stacked", h["cross"], None, h["hidden"]
    ),
}
# (model, schema): (FuxiCTR count, ours - FuxiCTR)
FUXICTR_COUNTS = {
    ("deepfm", "small"): (186, -1),
    ("deepfm", "criteo39"): (590_429, -1),
    ("dcnv2", "small"): (358, 0),
    ("dcnv2", "criteo39"): (1_759_921, 0),
    ("dcnv2_stacked", "small"): (349, 0),
    ("dcnv2_stacked", "criteo39"): (1_759_297, 0),
    ("fm", "small"): (65, 0),
    ("fm", "criteo39"): (19_228, 0),
    ("fwfm", "small"): (68, 0),
    ("fwfm", "criteo39"): (19_969, 0),
    ("fmfm", "small"): (92, 0),
    ("fmfm", "criteo39"): (208_924, 0),
    ("wide_deep", "small"): (185, 0),
    ("wide_deep", "criteo39"): (590_428, 0),
    ("pnn", "small"): (193, 0),
    ("pnn", "criteo39"): (885_697, 0),
    ("dcn", "small"): (214, 0),
    ("dcn", "criteo39"): (593_665, 0),
}


@pytest.mark.parametrize(("model", "schema"), FUXICTR_COUNTS)
def test_parameter_count_matches_fuxictr_reference(model: str, schema: str) -> None:
    feature_map, hparams = REFERENCE_SCHEMAS[schema]
    reference, diff = FUXICTR_COUNTS[model, schema]
    ours = count_parameters(REFERENCE_BUILDERS[model](feature_map, hparams))
    assert ours[keys.PARAMS_TOTAL] == reference + diff


def _copy_shared(source: nn.Module, target: nn.Module) -> None:
    """Give ``target`` the first-order weights and embeddings of ``source``."""
    target.linear.load_state_dict(source.linear.state_dict())
    target.embedding.load_state_dict(source.embedding.state_dict())


@pytest.mark.parametrize("model_cls", [FwFM, FmFM, DeepFM])
def test_fm_variants_reduce_to_fm(model_cls: type[nn.Module]) -> None:
    # FwFM (r = 1) and FmFM (M = I) start as FM; DeepFM is FM once its DNN head is zeroed.
    torch.manual_seed(0)
    fm = FM(SMALL, 3, init_std=0.1)
    model = model_cls(SMALL, 3, init_std=0.1)
    _copy_shared(fm, model)
    if isinstance(model, DeepFM):
        nn.init.zeros_(model.head.weight)
    features = random_features(SMALL, 8)
    torch.testing.assert_close(model(features), fm(features))


def test_wide_deep_is_lr_plus_a_dnn() -> None:
    torch.manual_seed(0)
    lr = LR(SMALL, init_std=0.1)
    model = WideDeep(SMALL, 3, HIDDEN, init_std=0.1)
    model.linear.load_state_dict(lr.linear.state_dict())
    nn.init.zeros_(model.head.weight)
    features = random_features(SMALL, 8)
    torch.testing.assert_close(model(features), lr(features))


def test_cross_only_dcn_gives_finite_logits_and_gradients() -> None:
    torch.manual_seed(0)
    model = DCN(SMALL, 3, 2, hidden_units=())
    logits = model(random_features(SMALL, 8))
    assert logits.shape == (8,)
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


ONE_FIELD = make_feature_map((5,))
ALL_MODELS = [FM, FwFM, FmFM, WideDeep, DeepFM, PNN, DCN]


@pytest.mark.parametrize("model_cls", ALL_MODELS)
def test_zero_embedding_dim_raises(model_cls: type[nn.Module]) -> None:
    with pytest.raises(ValueError, match="embedding_dim must be >= 1, got 0"):
        model_cls(SMALL, embedding_dim=0)


@pytest.mark.parametrize("model_cls", [FM, FwFM, FmFM, DeepFM, PNN])
def test_pairwise_models_need_two_fields(model_cls: type[nn.Module]) -> None:
    with pytest.raises(ValueError, match="at least 2 fields, got 1"):
        model_cls(ONE_FIELD)


@pytest.mark.parametrize("model_cls", [WideDeep, DeepFM, PNN])
def test_deep_models_need_hidden_units(model_cls: type[nn.Module]) -> None:
    with pytest.raises(ValueError, match=r"hidden_units=\(\)"):
        model_cls(SMALL, hidden_units=())


@pytest.mark.parametrize("model_cls", [WideDeep, DeepFM, PNN, DCN])
def test_bad_hidden_units_raise(model_cls: type[nn.Module]) -> None:
    with pytest.raises(ValueError, match=r"hidden_units must all be >= 1, got \[8, 0\]"):
        model_cls(SMALL, hidden_units=(8, 0))


def test_dcn_rejects_zero_cross_layers() -> None:
    with pytest.raises(ValueError, match="num_layers must be >= 1, got 0"):
        DCN(SMALL, num_cross_layers=0)
