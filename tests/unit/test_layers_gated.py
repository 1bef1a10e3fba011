"""FinalMLP's gate and bilinear fusion, AutoDis numeric embeddings, APG generated layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reaction.data.schema import FeatureMap, FieldSpec
from reaction.models.layers.apg import APGMLP, APGLinear
from reaction.models.layers.gating import BilinearFusion, FeatureSelectionGate
from reaction.models.layers.numeric import AutoDisEmbedding, numeric_bucket_values

# ---- FinalMLP: feature-selection gate ----------------------------------------------------------


def _zero_output_layer(gate: FeatureSelectionGate) -> None:
    last = gate.mlp.layers[-1]
    assert isinstance(last, nn.Linear)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


@pytest.mark.parametrize("learned_context", [True, False])
def test_gate_with_zero_output_layer_is_exactly_the_identity(learned_context: bool) -> None:
    torch.manual_seed(0)
    gate = FeatureSelectionGate(12, 4, hidden_units=(6,), learned_context=learned_context)
    _zero_output_layer(gate)
    x = torch.randn(5, 12)
    context = None if learned_context else torch.randn(5, 4)
    weights = gate.weights(5, context)
    assert torch.equal(weights, torch.ones(5, 12))  # 2 * sigmoid(0) == 1 exactly
    assert torch.equal(gate(x, context), x)


def test_gate_weights_lie_in_zero_two_and_follow_the_context() -> None:
    torch.manual_seed(0)
    gate = FeatureSelectionGate(12, 4, hidden_units=(6,))
    context = torch.randn(3, 4) * 5
    weights = gate.weights(3, context)
    assert ((weights > 0) & (weights < 2)).all()
    assert not torch.allclose(weights[0], weights[1])  # per-sample: conditioned on its context
    torch.testing.assert_close(gate(torch.ones(3, 12), context), weights)


def test_learned_context_gate_is_shared_by_all_samples() -> None:
    gate = FeatureSelectionGate(6, 3, learned_context=True, init_std=1.0)
    weights = gate.weights(4)
    torch.testing.assert_close(weights, weights[:1].expand(4, 6))


def test_gate_rejects_a_missing_or_superfluous_context() -> None:
    with pytest.raises(ValueError, match="learned context"):
        FeatureSelectionGate(6, 3, learned_context=True)(torch.ones(2, 6), torch.ones(2, 3))
    with pytest.raises(ValueError, match="no learned context"):
        FeatureSelectionGate(6, 3)(torch.ones(2, 6))


@pytest.mark.parametrize(("args", "message"), [((0, 3), "input_dim"), ((6, 0), "context_dim")])
def test_gate_rejects_bad_dims(args: tuple[int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureSelectionGate(*args)


# ---- FinalMLP: multi-head bilinear fusion ------------------------------------------------------


@pytest.mark.parametrize("num_heads", [1, 2, 4])
def test_bilinear_fusion_equals_the_per_head_formula(num_heads: int) -> None:
    torch.manual_seed(0)
    fusion = BilinearFusion(8, 12, num_heads=num_heads)
    o1, o2 = torch.randn(5, 8), torch.randn(5, 12)
    hx, hy = 8 // num_heads, 12 // num_heads
    expected = torch.zeros(5)
    for b in range(5):
        total = fusion.first.bias + fusion.second.bias  # the paper's sum_j b_j
        for j in range(num_heads):
            o1j, o2j = o1[b, j * hx : (j + 1) * hx], o2[b, j * hy : (j + 1) * hy]
            w1j = fusion.first.weight[0, j * hx : (j + 1) * hx]
            w2j = fusion.second.weight[0, j * hy : (j + 1) * hy]
            total = total + w1j @ o1j + w2j @ o2j + o1j @ fusion.bilinear[j] @ o2j
        expected[b] = total.squeeze()
    torch.testing.assert_close(fusion(o1, o2), expected)


def test_bilinear_fusion_rejects_heads_that_do_not_divide_the_widths() -> None:
    with pytest.raises(ValueError, match=r"num_heads=3 must divide .* 8 and 12"):
        BilinearFusion(8, 12, num_heads=3)
    with pytest.raises(ValueError, match="num_heads must be >= 1, got 0"):
        BilinearFusion(8, 12, num_heads=0)


# ---- AutoDis -----------------------------------------------------------------------------------

VALUES = ([10.0, 20.0, 40.0], [-1.0, 3.0])  # field 0: ids 2..4, field 1: ids 2..3


def _autodis(**kwargs: float) -> AutoDisEmbedding:
    torch.manual_seed(0)
    params = {"num_meta_embeddings": 5, "temperature": 0.5, "skip_alpha": 0.3, "init_std": 1.0}
    return AutoDisEmbedding(VALUES, embedding_dim=3, **(params | kwargs))


def test_scalar_buffer_standardises_each_field_and_zeroes_special_ids() -> None:
    layer = _autodis()
    assert layer.vocab_sizes == (5, 4)
    assert layer.offsets.tolist() == [0, 5]
    for field, values in enumerate(VALUES):
        start = int(layer.offsets[field])
        scalars = layer.scalars[start : start + len(values) + 2]
        assert scalars[:2].tolist() == [0.0, 0.0]
        v = torch.tensor(values)
        torch.testing.assert_close(scalars[2:], (v - v.mean()) / v.std(unbiased=False))


def test_autodis_value_embedding_is_the_softmax_weighted_meta_embeddings() -> None:
    layer = _autodis()
    ids = torch.tensor([[2, 3], [4, 2], [3, 3]])
    out = layer(ids)
    for b in range(ids.shape[0]):
        for f in range(2):
            v = torch.tensor(VALUES[f])
            x = ((v - v.mean()) / v.std(unbiased=False))[ids[b, f] - 2]
            h = nn.functional.leaky_relu(layer.scale[f] * x + layer.shift[f])
            logits = layer.mixing[f] @ h + 0.3 * h
            p = torch.softmax(logits / 0.5, dim=0)
            torch.testing.assert_close(out[b, f], p @ layer.meta_embeddings[f])
    torch.testing.assert_close(layer.weights(ids).sum(-1), torch.ones(3, 2))


def test_missing_and_oov_read_their_own_rows_whatever_the_meta_embeddings() -> None:
    layer = _autodis()
    ids = torch.tensor([[0, 1], [1, 0], [2, 2]])
    out = layer(ids)
    rows = layer.special.table.weight  # field f's (missing, OOV) rows are 2f, 2f+1
    torch.testing.assert_close(out[0], torch.stack([rows[0], rows[3]]))
    torch.testing.assert_close(out[1], torch.stack([rows[1], rows[2]]))
    assert not torch.allclose(out[0, 0], out[1, 0])  # missing != OOV
    assert not torch.allclose(out[0, 0], out[2, 0])  # missing != any value (scalar 0 or not)
    with torch.no_grad():
        layer.meta_embeddings.mul_(7.0)
    torch.testing.assert_close(layer(ids)[:2], out[:2])
    assert not torch.allclose(layer(ids)[2], out[2])


def test_autodis_rejects_out_of_range_ids() -> None:
    # id 5 of field 0 would silently read field 1's scalar in the concatenated buffer.
    with pytest.raises(ValueError, match=r"numeric field 0: ids must lie in \[0, 5\)"):
        _autodis()(torch.tensor([[5, 0]]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_meta_embeddings": 0}, "num_meta_embeddings must be >= 1, got 0"),
        ({"temperature": 0.0}, "temperature must be > 0, got 0.0"),
        ({"skip_alpha": float("nan")}, "skip_alpha must be finite"),
        ({"init_std": -1.0}, "init_std must be > 0"),
    ],
)
def test_autodis_rejects_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _autodis(**kwargs)


def test_bucket_values_are_read_from_the_feature_map_or_the_field_is_named() -> None:
    fields = (FieldSpec("age", "numeric", 5), FieldSpec("price", "numeric", 4))
    extra = {"numeric": {"bucket_values": {"age": [1, 2, 3]}}}
    fm = FeatureMap(fields=fields, extra=extra)
    assert numeric_bucket_values(fm, ["age"]) == [[1.0, 2.0, 3.0]]
    with pytest.raises(ValueError, match="'price' has no bucket values"):
        numeric_bucket_values(fm, ["age", "price"])
    with pytest.raises(ValueError, match="'price' has no bucket values"):
        numeric_bucket_values(FeatureMap(fields=fields), ["price"])
    short = FeatureMap(fields=fields, extra={"numeric": {"bucket_values": {"price": [1.0]}}})
    with pytest.raises(ValueError, match="'price': 1 bucket values for 2 value ids"):
        numeric_bucket_values(short, ["price"])


# ---- APG ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("overparam_dim", [None, 5])
def test_apg_linear_equals_the_explicit_per_sample_product(overparam_dim: int | None) -> None:
    torch.manual_seed(0)
    layer = APGLinear(7, 6, 4, rank=3, hypernet_hidden_units=(8,), overparam_dim=overparam_dim)
    with torch.no_grad():
        layer.bias.normal_()
    x, z = torch.randn(5, 7), torch.randn(5, 4)
    u, v = layer.shared()
    if overparam_dim is not None:
        f = layer.factors
        torch.testing.assert_close(u, f["u_left"] @ f["u_right"])
        torch.testing.assert_close(v, f["v_left"] @ f["v_right"])
    s = layer.hypernet(z).reshape(5, 3, 3)
    expected = torch.stack([u @ s[i] @ v @ x[i] + layer.bias for i in range(5)])
    torch.testing.assert_close(layer(x, z), expected)
    assert not torch.allclose(s[0], s[1])  # per-instance weights


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rank": 7}, r"rank must lie in \[1, min\(input_dim, output_dim\)\] = \[1, 6\], got 7"),
        ({"rank": 0}, "got 0"),
        ({"rank": 3, "overparam_dim": 2}, "overparam_dim must be >= rank=3 or None, got 2"),
    ],
)
def test_apg_linear_rejects_bad_arguments(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        APGLinear(7, 6, condition_dim=4, **kwargs)


def test_apg_mlp_clamps_the_rank_to_each_layer() -> None:
    mlp = APGMLP(9, (8, 4), condition_dim=5, rank=6)
    assert [layer.rank for layer in mlp.linears] == [6, 4]
    assert mlp(torch.randn(3, 9), torch.randn(3, 5)).shape == (3, 4)
    with pytest.raises(ValueError, match="hidden_units must be non-empty"):
        APGMLP(9, (), condition_dim=5)
    with pytest.raises(ValueError, match="overparam_dim must be >= rank=6 or None, got 4"):
        APGMLP(9, (8,), condition_dim=5, rank=6, overparam_dim=4)
