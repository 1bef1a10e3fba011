"""Explicit-interaction baselines (xDeepFM, AutoInt+, FiBiNET, FiGNN): hand-counted parameters,
composition properties, the variants the configs do not cover, and constructor validation.
Generic properties run for every config in test_models.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from reaction.data.schema import FeatureMap, FieldSpec
from reaction.lit.ctr_module import CTRModule
from reaction.metrics import keys
from reaction.metrics.costs import count_parameters, random_features
from reaction.models.autoint import AutoIntPlus
from reaction.models.fibinet import FiBiNET
from reaction.models.fignn import FiGNN
from reaction.models.xdeepfm import XDeepFM
from tests.conftest import compose_train


def make_feature_map(vocab_sizes: tuple[int, ...]) -> FeatureMap:
    fields = tuple(FieldSpec(f"f{i}", "categorical", v) for i, v in enumerate(vocab_sizes))
    return FeatureMap(fields=fields, dataset="test")


SMALL = make_feature_map((5, 7, 4))  # F = 3, d = F * D = 9 with D = 3
FOUR = make_feature_map((5, 7, 4, 6))  # F = 4, P = 6: tells field_each (4) from pairs (6)
HIDDEN = (8, 4)
EMB = (5 + 7 + 4) * 3  # the FieldEmbedding table
FIRST = 5 + 7 + 4  # FirstOrder weights (embedding); its bias is counted as dense
MLP = (9 * 8 + 8) + (8 * 4 + 4)  # tower on the flattened embeddings
EMB4, FIRST4 = (5 + 7 + 4 + 6) * 3, 5 + 7 + 4 + 6
PAIR_MLP4 = (2 * 6 * 3 * 8 + 8) + (8 * 4 + 4)  # tower on [bilinear || SENET bilinear] (36)
SENET4 = 4 * 1 + 1 * 4  # F = 4, r = 3: W_1 (1 x 4), W_2 (4 x 1)


def _counts(embedding: int, dense: int) -> dict[str, int]:
    return {
        keys.PARAMS_TOTAL: embedding + dense,
        keys.PARAMS_EMBEDDING: embedding,
        keys.PARAMS_DENSE: dense,
    }


# Attention layer with in -> A: W_Q, W_K, W_V (3 in A), plus W_res (in A) when in != A.
ATTN_3_4, ATTN_4_4 = 3 * 3 * 4 + 3 * 4, 3 * 4 * 4
# FiGNN with F = D = 3: per step W_in, W_out (2 F D^2) + b_p (D); one GRUCell (6 D^2 + 6 D).
GRAPH_STEP, GRU = 2 * 3 * 9 + 3, 6 * 9 + 6 * 3
EDGE_ATTENTION, SCORING = 2 * 3, 3 + 9 * 3  # w (2D); MLP_1 (D) and MLP_2 (F D x F), no biases


@pytest.mark.parametrize(
    ("build", "embedding", "dense"),
    [
        # CIN layers: (H_{k-1} F) x H_k, no bias: 9 x 2, then 6 x 2. Head reads [p+ (4) || deep
        # (4)] without a bias: the first-order term holds the model's one bias.
        (
            lambda: XDeepFM(SMALL, 3, (2, 2), hidden_units=HIDDEN),
            EMB + FIRST,
            1 + (9 * 2 + 6 * 2) + MLP + (4 + 4),
        ),
        # split_half: layer 1 makes 4 maps, 2 go on (input 2 * 3 = 6), 2 are pooled; p+ = 2 + 2.
        (
            lambda: XDeepFM(SMALL, 3, (4, 2), cin_split_half=True, hidden_units=HIDDEN),
            EMB + FIRST,
            1 + (9 * 4 + 6 * 2) + MLP + (4 + 4),
        ),
        (lambda: XDeepFM(SMALL, 3, (2, 2), hidden_units=()), EMB + FIRST, 1 + 30 + 4),
        # Two attention layers 3 -> 4 -> 4; head reads [F A (12) || deep (4)] plus a bias.
        (
            lambda: AutoIntPlus(SMALL, 3, 2, 2, 4, hidden_units=HIDDEN),
            EMB,
            ATTN_3_4 + ATTN_4_4 + MLP + (12 + 4 + 1),
        ),
        (
            lambda: AutoIntPlus(SMALL, 3, 2, 2, 4, use_residual=False, hidden_units=HIDDEN),
            EMB,
            (ATTN_3_4 - 12) + ATTN_4_4 + MLP + (12 + 4 + 1),
        ),
        (  # LayerNorm: gamma and beta per layer.
            lambda: AutoIntPlus(SMALL, 3, 2, 2, 4, layer_norm=True, hidden_units=HIDDEN),
            EMB,
            ATTN_3_4 + ATTN_4_4 + 2 * (2 * 4) + MLP + (12 + 4 + 1),
        ),
        # A == D: identity residual from the first layer on.
        (lambda: AutoIntPlus(SMALL, 3, 1, 1, 3, hidden_units=()), EMB, 3 * 9 + (9 + 1)),
        # Two bilinear layers with their own weights: 2 x (1 | F | P) D x D matrices.
        (
            lambda: FiBiNET(FOUR, 3, bilinear_type="field_all", hidden_units=HIDDEN),
            EMB4 + FIRST4,
            1 + SENET4 + 2 * 9 + PAIR_MLP4 + 4,
        ),
        (
            lambda: FiBiNET(FOUR, 3, bilinear_type="field_each", hidden_units=HIDDEN),
            EMB4 + FIRST4,
            1 + SENET4 + 2 * 4 * 9 + PAIR_MLP4 + 4,
        ),
        (
            lambda: FiBiNET(FOUR, 3, hidden_units=HIDDEN),
            EMB4 + FIRST4,
            1 + SENET4 + 2 * 6 * 9 + PAIR_MLP4 + 4,
        ),
        (  # r = 2: F / r = 2 hidden excitation units.
            lambda: FiBiNET(FOUR, 3, reduction_ratio=2, hidden_units=()),
            EMB4 + FIRST4,
            1 + 2 * (4 * 2) + 2 * 6 * 9 + 36,
        ),
        (lambda: FiGNN(SMALL, 3, 2), EMB, EDGE_ATTENTION + 2 * GRAPH_STEP + GRU + SCORING),
        (lambda: FiGNN(SMALL, 3, 2, use_gru=False), EMB, EDGE_ATTENTION + 2 * GRAPH_STEP + SCORING),
    ],
    ids=[
        "xdeepfm",
        "xdeepfm_split_half",
        "xdeepfm_cin_only",
        "autoint_plus",
        "autoint_plus_no_residual",
        "autoint_plus_layer_norm",
        "autoint",
        "fibinet_field_all",
        "fibinet_field_each",
        "fibinet_field_interaction",
        "fibinet_shallow",
        "fignn",
        "fignn_no_gru",
    ],
)
def test_parameter_count_matches_hand_computation(
    build: Callable[[], nn.Module], embedding: int, dense: int
) -> None:
    assert count_parameters(build()) == _counts(embedding, dense)


# Reference: the FuxiCTR 2.3.10 pip layers (FeatureEmbedding, MLP_Block, LogisticRegression,
# CompressedInteractionNet, SqueezeExcitation, BilinearInteractionV2; GRUCell and Linear for
# FiGNN) assembled as the reczoo/FuxiCTR model_zoo constructors of xDeepFM, AutoInt, FiBiNET and
# FiGNN (read at commits 2c89b9d, 0245987, b0bdfa1); 39 categorical fields with vocabularies
# 10..48, embedding_dim 16, hidden units [400, 400, 400], our conf/model defaults; trainable numel.
# Differences (ours - FuxiCTR): xDeepFM -97 = no bias in the CIN maps (eq. 6; FuxiCTR's Conv1d
# has 3 x 32) and one model bias instead of the CIN fc + DNN output biases; AutoInt+ -1 = one head
# over [attention || DNN] instead of two biased output layers.
CRITEO39 = make_feature_map(tuple(10 + i for i in range(39)))
FUXICTR_CRITEO39: dict[str, tuple[Callable[[], nn.Module], int, int]] = {
    "xdeepfm": (lambda: XDeepFM(CRITEO39), 719_165, -97),
    "autoint_plus": (lambda: AutoIntPlus(CRITEO39), 620_466, -1),
    "fibinet_field_all": (lambda: FiBiNET(CRITEO39, bilinear_type="field_all"), 9_827_154, 0),
    "fibinet_field_each": (lambda: FiBiNET(CRITEO39, bilinear_type="field_each"), 9_846_610, 0),
    "fibinet": (lambda: FiBiNET(CRITEO39), 10_206_034, 0),
    "fignn": (lambda: FiGNN(CRITEO39), 104_064, 0),
}


@pytest.mark.parametrize("name", FUXICTR_CRITEO39)
def test_parameter_count_matches_fuxictr_reference(name: str) -> None:
    build, reference, diff = FUXICTR_CRITEO39[name]
    assert count_parameters(build())[keys.PARAMS_TOTAL] == reference + diff


def test_xdeepfm_is_lr_when_cin_and_dnn_are_off() -> None:
    # Eq. 7 with w_cin = w_dnn = 0 leaves the first-order term (and its bias) alone.
    torch.manual_seed(0)
    model = XDeepFM(SMALL, 3, (2,), hidden_units=HIDDEN, init_std=0.1)
    nn.init.zeros_(model.head.weight)
    features = random_features(SMALL, 8)
    torch.testing.assert_close(model(features), model.linear(features))


def test_autoint_plus_logit_is_the_sum_of_its_attention_and_dnn_parts() -> None:
    torch.manual_seed(0)
    model = AutoIntPlus(SMALL, 3, 2, 2, 4, hidden_units=HIDDEN, init_std=0.1).eval()
    features = random_features(SMALL, 8)
    e = model.embedding(features)
    w = model.head.weight[0]
    attention = model.interaction(e).flatten(start_dim=1) @ w[:12]
    assert model.tower is not None
    deep = model.tower(e.flatten(start_dim=1)) @ w[12:]
    torch.testing.assert_close(model(features), attention + deep + model.head.bias)


def test_fibinet_senet_branch_reads_reweighted_embeddings() -> None:
    # Sigmoid excitation with W_2 = 0 weighs every field 1/2; bilinear pairs are quadratic, so
    # with equal bilinear weights the SENET branch is exactly 1/4 of the raw branch.
    torch.manual_seed(0)
    model = FiBiNET(FOUR, 3, excitation_activation="sigmoid", hidden_units=(), init_std=0.1)
    model.senet_bilinear.load_state_dict(model.bilinear.state_dict())
    nn.init.zeros_(model.senet.excitation[2].weight)
    e = model.embedding(random_features(FOUR, 8))
    raw, reweighted = model.bilinear(e), model.senet_bilinear(model.senet(e))
    torch.testing.assert_close(reweighted, 0.25 * raw)


VARIANTS: dict[str, Callable[[], nn.Module]] = {
    "xdeepfm_split_half": lambda: XDeepFM(FOUR, 4, (4, 4, 2), True, HIDDEN),
    "xdeepfm_cin_only": lambda: XDeepFM(FOUR, 4, (4, 2), hidden_units=()),
    "autoint_layer_norm_scaled": lambda: AutoIntPlus(
        FOUR, 4, 2, 2, 8, use_scale=True, layer_norm=True, hidden_units=()
    ),
    "fibinet_field_each_sigmoid": lambda: FiBiNET(
        FOUR, 4, excitation_activation="sigmoid", bilinear_type="field_each", hidden_units=HIDDEN
    ),
    # r = 1: with one excitation unit (r = 3 on 4 fields) a ReLU SENET can start dead.
    "fibinet_field_all": lambda: FiBiNET(
        FOUR, 4, reduction_ratio=1, bilinear_type="field_all", hidden_units=HIDDEN
    ),
    "fignn_no_gru_no_residual": lambda: FiGNN(FOUR, 4, 2, use_gru=False, use_residual=False),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_variants_give_finite_logits_gradients_and_export(name: str) -> None:
    torch.manual_seed(0)
    model = VARIANTS[name]()
    features = random_features(FOUR, 16)
    logits = model(features)
    assert logits.shape == (16,)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname
    model.eval()
    exported = torch.export.export(model, (features,))
    torch.testing.assert_close(exported.module()(features), model(features))


ONE_FIELD = make_feature_map((5,))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: XDeepFM(SMALL, cin_hidden_units=()), r"CIN hidden_units .*got \[\]"),
        (lambda: XDeepFM(SMALL, cin_hidden_units=(3, 2), cin_split_half=True), r"\[3, 2\]"),
        (lambda: XDeepFM(SMALL, hidden_units=(8, 0)), r"got \[8, 0\]"),
        (lambda: AutoIntPlus(SMALL, attention_layers=0), "attention_layers must be >= 1, got 0"),
        (lambda: AutoIntPlus(SMALL, num_heads=3, attention_dim=64), "num_heads=3, got 64"),
        (lambda: AutoIntPlus(SMALL, dropout=1.0), r"dropout .*got 1.0"),
        (lambda: FiBiNET(ONE_FIELD), "at least 2 fields, got 1"),
        (lambda: FiBiNET(SMALL, bilinear_type="pair"), "'pair'"),  # type: ignore[arg-type]
        (lambda: FiBiNET(SMALL, excitation_activation="gelu"), "'gelu'"),
        (lambda: FiBiNET(SMALL, reduction_ratio=0), "reduction_ratio must be >= 1, got 0"),
        (lambda: FiGNN(ONE_FIELD), "at least 2 fields, got 1"),
        (lambda: FiGNN(SMALL, gnn_layers=0), "gnn_layers must be >= 1, got 0"),
    ],
)
def test_models_reject_bad_config(build: Callable[[], nn.Module], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("model_cls", [XDeepFM, AutoIntPlus, FiBiNET, FiGNN])
def test_zero_embedding_dim_raises(model_cls: type[nn.Module]) -> None:
    with pytest.raises(ValueError, match="embedding_dim must be >= 1, got 0"):
        model_cls(SMALL, embedding_dim=0)


def _fibinet_embedding_norm_after_training(embedding_weight_decay: float) -> float:
    """Mean embedding norm of a small FiBiNET after 300 Adam steps on a planted pair effect."""
    torch.manual_seed(0)
    feature_map = make_feature_map((20,) * 12)
    net = FiBiNET(feature_map, embedding_dim=8, hidden_units=(32, 32))
    module = CTRModule(
        net, embedding_lr=3e-3, embedding_weight_decay=embedding_weight_decay, plateau_factor=None
    )
    optimizer = module.configure_optimizers()
    generator = torch.Generator().manual_seed(1)
    for _ in range(300):
        x = torch.randint(0, 20, (256, 12), generator=generator)
        logit = torch.where(x[:, 0] % 2 == x[:, 1] % 2, 1.0, -1.0)  # a pure pair interaction
        y = torch.bernoulli(torch.sigmoid(logit), generator=generator)
        loss = nn.functional.binary_cross_entropy_with_logits(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.embedding(x).norm(dim=-1).mean().item()


def test_fibinet_embeddings_survive_its_optimizer_and_collapse_under_the_shared_one(
    tmp_path: Path,
) -> None:
    # FiBiNET's DNN reads only embedding products, so the embedding L2 pull and the data
    # gradient both scale with the embeddings: the shared 3e-4 drives them to ~0 (the deep part
    # then outputs a constant); conf/model/fibinet.yaml sets a smaller one that the module reads.
    def module_node(model: str):
        return compose_train([f"model={model}"], tmp_path / "run", tmp_path / "data").module

    shared, own = module_node("dnn"), module_node("fibinet")
    assert own.embedding_weight_decay < shared.embedding_weight_decay
    assert {k: v for k, v in own.items() if k != "embedding_weight_decay"} == {
        k: v for k, v in shared.items() if k != "embedding_weight_decay"
    }
    initial = 1e-4 * 8**0.5  # init_std * sqrt(D)
    assert _fibinet_embedding_norm_after_training(shared.embedding_weight_decay) < initial / 10
    assert _fibinet_embedding_norm_after_training(own.embedding_weight_decay) > 0.05
