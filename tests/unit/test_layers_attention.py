"""Explicit-interaction layers (CIN, self-attention, SENET, bilinear, FiGNN) against hand loops."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from reaction.models.layers.attention import MultiHeadSelfAttention
from reaction.models.layers.cin import CompressedInteractionNet
from reaction.models.layers.graph import AttentionalScoring, FieldGraph
from reaction.models.layers.senet import BilinearInteraction, SqueezeExcitation

B, F, D = 2, 3, 3


def _embeddings(seed: int = 0, fields: int = F, dim: int = D) -> torch.Tensor:
    return torch.randn(B, fields, dim, generator=torch.Generator().manual_seed(seed)).double()


def _cin_reference(cin: CompressedInteractionNet, x0: torch.Tensor) -> torch.Tensor:
    """xDeepFM eq. 6 element by element, sum pooling per layer, halves split as in section 3.2."""
    pools = []
    x = x0  # (B, H_{k-1}, D)
    for k, layer in enumerate(cin.layers):
        w = layer.weight.view(layer.out_features, x.shape[1], F)  # W^{k,h}[i, m]
        nxt = torch.zeros(B, layer.out_features, D, dtype=x0.dtype)
        for b, h, d in itertools.product(range(B), range(layer.out_features), range(D)):
            for i, m in itertools.product(range(x.shape[1]), range(F)):
                nxt[b, h, d] += w[h, i, m] * x[b, i, d] * x0[b, m, d]
        if cin.split_half and k < len(cin.layers) - 1:
            half = layer.out_features // 2
            x, direct = nxt[:, :half], nxt[:, half:]
        else:
            x = direct = nxt
        pools.append(direct.sum(dim=2))
    return torch.cat(pools, dim=1)


@pytest.mark.parametrize(("units", "split_half"), [((2, 3), False), ((4, 2, 3), True)])
def test_cin_matches_the_paper_equation(units: tuple[int, ...], split_half: bool) -> None:
    torch.manual_seed(0)
    cin = CompressedInteractionNet(F, units, split_half=split_half).double()
    x0 = _embeddings()
    out = cin(x0)
    assert out.shape == (B, cin.output_dim)
    torch.testing.assert_close(out, _cin_reference(cin, x0))


def test_cin_output_dim_counts_the_pooled_maps() -> None:
    assert CompressedInteractionNet(F, (4, 6, 3)).output_dim == 13
    assert CompressedInteractionNet(F, (4, 6, 3), split_half=True).output_dim == 2 + 3 + 3


def test_cin_layer_k_is_a_polynomial_of_degree_k_plus_1() -> None:
    # Scaling the embeddings by c scales layer k's pool by c^(k+1): the degree eq. 6 promises.
    torch.manual_seed(0)
    cin = CompressedInteractionNet(F, (2, 2, 2)).double()
    x0 = _embeddings()
    ratio = cin(2.0 * x0) / cin(x0)
    expected = torch.tensor([4.0, 4.0, 8.0, 8.0, 16.0, 16.0], dtype=torch.float64)
    torch.testing.assert_close(ratio, expected.expand(B, -1))


def _attention_reference(block: MultiHeadSelfAttention, x: torch.Tensor) -> torch.Tensor:
    """AutoInt eqs. 5-8 for one head, field by field with explicit sums."""
    wq, wk, wv = block.query.weight, block.key.weight, block.value.weight
    out = torch.zeros(B, F, block.attention_dim, dtype=x.dtype)
    for b, f in itertools.product(range(B), range(F)):
        scores = [(wq @ x[b, f]) @ (wk @ x[b, k]) * block.scale for k in range(F)]
        denominator = sum(torch.exp(s) for s in scores)
        mixed = sum(torch.exp(s) / denominator * (wv @ x[b, k]) for k, s in enumerate(scores))
        residual = block.residual(x[b, f]) if block.residual is not None else 0.0
        out[b, f] = torch.relu(mixed + residual)
    return out


@pytest.mark.parametrize(
    ("attention_dim", "use_residual", "use_scale"),
    [(D, True, False), (4, True, True), (D, False, False)],
)
def test_one_head_self_attention_matches_a_hand_computation(
    attention_dim: int, use_residual: bool, use_scale: bool
) -> None:
    # attention_dim == D: identity residual; otherwise the W_res projection.
    torch.manual_seed(0)
    block = MultiHeadSelfAttention(
        D, attention_dim, num_heads=1, use_residual=use_residual, use_scale=use_scale
    ).double()
    assert (block.residual is None) == (not use_residual)
    x = _embeddings()
    torch.testing.assert_close(block(x), _attention_reference(block, x))


def test_heads_attend_separately_and_are_concatenated() -> None:
    torch.manual_seed(0)
    block = MultiHeadSelfAttention(D, 4, num_heads=2, use_residual=False).double()
    x = _embeddings()
    for head in range(2):
        single = MultiHeadSelfAttention(D, 2, num_heads=1, use_residual=False).double()
        rows = slice(2 * head, 2 * head + 2)
        with torch.no_grad():
            for name in ("query", "key", "value"):
                getattr(single, name).weight.copy_(getattr(block, name).weight[rows])
        torch.testing.assert_close(block(x)[..., rows], single(x))


@pytest.mark.parametrize("layer_norm", [False, True])
def test_self_attention_is_permutation_equivariant_over_fields(layer_norm: bool) -> None:
    torch.manual_seed(0)
    block = MultiHeadSelfAttention(D, 4, num_heads=2, layer_norm=layer_norm).double()
    x = _embeddings(fields=5)
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(block(x[:, perm]), block(x)[:, perm])


@pytest.mark.parametrize(
    ("activation", "low", "high"), [("relu", 0.0, math.inf), ("sigmoid", 0, 1)]
)
def test_senet_weights_lie_in_the_activation_range(
    activation: str, low: float, high: float
) -> None:
    torch.manual_seed(0)
    senet = SqueezeExcitation(6, reduction_ratio=2, activation=activation).double()
    x = 10.0 * _embeddings(fields=6, dim=4)
    weights = senet.weights(x)
    assert weights.shape == (B, 6)
    assert (weights >= low).all() and (weights <= high).all()
    if activation == "sigmoid":
        assert (weights > 0).all() and (weights < 1).all()
    torch.testing.assert_close(senet(x), x * weights.unsqueeze(-1))
    # Squeeze = mean over D (eq. 1), excitation = s(W_2 ReLU(W_1 z)) (eq. 2).
    w1, w2 = senet.excitation[0].weight, senet.excitation[2].weight
    expected = senet.excitation[3](w2 @ torch.relu(w1 @ x.mean(dim=-1).T)).T
    torch.testing.assert_close(weights, expected)


@pytest.mark.parametrize("bilinear_type", ["field_all", "field_each", "field_interaction"])
def test_bilinear_interaction_matches_a_loop_over_field_pairs(bilinear_type: str) -> None:
    torch.manual_seed(0)
    fields = 4
    bilinear = BilinearInteraction(fields, D, bilinear_type).double()  # type: ignore[arg-type]
    expected_matrices = {"field_all": 1, "field_each": fields, "field_interaction": 6}
    assert bilinear.weight.shape == (expected_matrices[bilinear_type], D, D)
    x = _embeddings(fields=fields)
    out = bilinear(x)
    assert out.shape == (B, 6, D)
    for pair, (i, j) in enumerate(itertools.combinations(range(fields), 2)):
        w = {"field_all": 0, "field_each": i, "field_interaction": pair}[bilinear_type]
        for b in range(B):
            torch.testing.assert_close(out[b, pair], (x[b, i] @ bilinear.weight[w]) * x[b, j])


def _fignn_reference(graph: FieldGraph, e: torch.Tensor) -> torch.Tensor:
    """FiGNN eqs. 5-9 node by node: attention edges, edge-wise messages, GRU, residual."""
    w = graph.edge_attention.weight[0]
    h = e.clone()
    for layer in graph.layers:
        new = torch.empty_like(h)
        for b, i in itertools.product(range(B), range(F)):
            others = [j for j in range(F) if j != i]
            logits = [
                torch.nn.functional.leaky_relu(w @ torch.cat([e[b, i], e[b, j]]), 0.01)
                for j in others
            ]
            attention = torch.softmax(torch.stack(logits), dim=0)
            aggregate = sum(
                a * (layer.w_out[j] @ h[b, j]) for a, j in zip(attention, others, strict=True)
            )
            a_i = layer.w_in[i] @ aggregate + layer.bias
            if graph.gru is not None:
                state = graph.gru(a_i.unsqueeze(0), h[b, i].unsqueeze(0))[0]
            else:
                state = a_i + h[b, i]
            new[b, i] = state + e[b, i] if graph.use_residual else state
        h = new
    return h


@pytest.mark.parametrize(("use_gru", "use_residual"), [(True, True), (False, False)])
def test_field_graph_matches_a_hand_loop(use_gru: bool, use_residual: bool) -> None:
    torch.manual_seed(0)
    graph = FieldGraph(F, D, num_layers=2, use_gru=use_gru, use_residual=use_residual).double()
    e = _embeddings()
    torch.testing.assert_close(graph(e), _fignn_reference(graph, e))


def test_field_graph_attention_has_no_self_loops_and_rows_sum_to_one() -> None:
    torch.manual_seed(0)
    graph = FieldGraph(5, D).double()
    adjacency = graph.attention(_embeddings(fields=5))
    assert torch.all(adjacency.diagonal(dim1=1, dim2=2) == 0)
    torch.testing.assert_close(adjacency.sum(dim=-1), torch.ones(B, 5, dtype=torch.float64))


def test_attentional_scoring_is_a_weighted_sum_of_node_scores() -> None:
    torch.manual_seed(0)
    scoring = AttentionalScoring(F, D).double()
    h = _embeddings()
    for b in range(B):
        weights = torch.sigmoid(scoring.attention.weight @ h[b].flatten())
        expected = sum(weights[i] * (scoring.score.weight[0] @ h[b, i]) for i in range(F))
        torch.testing.assert_close(scoring(h)[b], expected)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CompressedInteractionNet(F, ()), r"hidden_units .*\[\]"),
        (lambda: CompressedInteractionNet(F, (4, 0)), r"\[4, 0\]"),
        (lambda: CompressedInteractionNet(F, (3, 2), split_half=True), r"even .*\[3, 2\]"),
        (lambda: MultiHeadSelfAttention(D, 6, num_heads=4), "num_heads=4, got 6"),
        (lambda: MultiHeadSelfAttention(D, 4, num_heads=0), "num_heads must be >= 1, got 0"),
        (lambda: MultiHeadSelfAttention(D, 4, dropout=1.5), "got 1.5"),
        (lambda: SqueezeExcitation(F, reduction_ratio=0.5), "reduction_ratio .*0.5"),
        (lambda: SqueezeExcitation(F, activation="tanh"), "'tanh'"),
        (lambda: BilinearInteraction(1, D), "at least 2 fields, got 1"),
        (lambda: BilinearInteraction(F, D, "field_pair"), "'field_pair'"),  # type: ignore[arg-type]
        (lambda: FieldGraph(1, D), "at least 2 fields, got 1"),
        (lambda: FieldGraph(F, D, num_layers=0), "num_layers must be >= 1, got 0"),
    ],
)
def test_layers_reject_bad_config(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
