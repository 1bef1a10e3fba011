"""FM-family pairwise layers and the DCN cross network against their explicit formulas."""

from __future__ import annotations

import pytest
import torch

from reaction.models.layers.factorization import (
    FieldMatrixedInteraction,
    FieldWeightedInteraction,
    FMInteraction,
    InnerProduct,
    num_pairs,
)
from reaction.models.layers.interactions import CrossNet

B, F, D = 4, 5, 3


def _embeddings(seed: int = 0) -> torch.Tensor:
    return torch.randn(B, F, D, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _pairs() -> list[tuple[int, int]]:
    """Field pairs ``i < j`` in the row-major order every layer uses for its pair weights."""
    return [(i, j) for i in range(F) for j in range(i + 1, F)]


def test_fm_sum_square_trick_equals_brute_force_pairwise_sum() -> None:
    v = _embeddings()
    expected = torch.stack(
        [sum(v[b, i] @ v[b, j] for i, j in _pairs()) for b in range(B)]  # type: ignore[misc]
    )
    torch.testing.assert_close(FMInteraction()(v), expected)


def test_inner_product_equals_double_loop_in_pair_order() -> None:
    v = _embeddings()
    layer = InnerProduct(F)
    expected = torch.tensor([[float(v[b, i] @ v[b, j]) for i, j in _pairs()] for b in range(B)])
    assert layer.output_dim == F * (F - 1) // 2
    torch.testing.assert_close(layer(v), expected.double())


def test_field_weighted_equals_double_loop_over_field_pairs() -> None:
    torch.manual_seed(0)
    v = _embeddings()
    layer = FieldWeightedInteraction(F).double()
    with torch.no_grad():
        layer.weight.normal_()
    r = layer.weight
    expected = torch.stack(
        [sum(r[p] * (v[b, i] @ v[b, j]) for p, (i, j) in enumerate(_pairs())) for b in range(B)]
    )
    torch.testing.assert_close(layer(v), expected)


def test_field_matrixed_equals_double_loop_over_field_pairs() -> None:
    torch.manual_seed(0)
    v = _embeddings()
    layer = FieldMatrixedInteraction(F, D).double()
    with torch.no_grad():
        layer.weight.normal_()
    m = layer.weight  # (P, D, D)
    expected = torch.stack(
        [sum(v[b, i] @ m[p] @ v[b, j] for p, (i, j) in enumerate(_pairs())) for b in range(B)]
    )
    torch.testing.assert_close(layer(v), expected)


def test_field_weighted_and_matrixed_start_as_fm() -> None:
    # r = 1 and M = I at init: both blocks reduce to FM's pairwise term until they train.
    v = _embeddings()
    fm = FMInteraction()(v)
    torch.testing.assert_close(FieldWeightedInteraction(F).double()(v), fm)
    torch.testing.assert_close(FieldMatrixedInteraction(F, D).double()(v), fm)


def test_pair_indices_stay_out_of_the_state_dict() -> None:
    assert list(FieldWeightedInteraction(F).state_dict()) == ["weight"]
    assert list(FieldMatrixedInteraction(F, D).state_dict()) == ["weight"]
    assert list(InnerProduct(F).state_dict()) == []
    assert FieldMatrixedInteraction(F, D).weight.shape == (F * (F - 1) // 2, D, D)


def test_cross_net_equals_the_dcn_formula() -> None:
    """DCN eq. 3 sample by sample: x_{l+1} = x_0 (x_l^T w_l) + b_l + x_l."""
    torch.manual_seed(0)
    cross = CrossNet(6, num_layers=3).double()
    with torch.no_grad():
        for bias in cross.biases:
            bias.normal_()  # nonzero, so the bias term is exercised
    x0 = torch.randn(4, 6, dtype=torch.float64)
    rows = []
    for b in range(4):
        x = x0[b]
        for layer, bias in zip(cross.weights, cross.biases, strict=True):
            w = layer.weight[0]  # (d,)
            x = x0[b] * (x @ w) + bias + x
        rows.append(x)
    torch.testing.assert_close(cross(x0), torch.stack(rows))


def test_cross_net_has_two_d_parameters_per_layer() -> None:
    assert sum(p.numel() for p in CrossNet(6, num_layers=3).parameters()) == 3 * (6 + 6)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: num_pairs(1), "at least 2 fields, got 1"),
        (lambda: InnerProduct(1), "at least 2 fields, got 1"),
        (lambda: FieldWeightedInteraction(0), "at least 2 fields, got 0"),
        (lambda: FieldMatrixedInteraction(1, 3), "at least 2 fields, got 1"),
        (lambda: FieldMatrixedInteraction(3, 0), "embedding_dim must be >= 1, got 0"),
        (lambda: CrossNet(0), "input_dim must be >= 1, got 0"),
        (lambda: CrossNet(6, num_layers=0), "num_layers must be >= 1, got 0"),
    ],
)
def test_bad_layer_config_raises(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
