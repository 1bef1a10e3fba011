"""Shared layers: the concatenated embedding table, the MLP and the DCN-V2 cross network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reaction.models.layers.embedding import FieldEmbedding, split_parameters
from reaction.models.layers.interactions import CrossNetV2
from reaction.models.layers.mlp import MLP

VOCAB = (5, 7, 4)


def test_offsets_map_each_field_to_its_own_rows() -> None:
    emb = FieldEmbedding(VOCAB, embedding_dim=3)
    assert emb.offsets.tolist() == [0, 5, 12]
    assert emb.table.num_embeddings == 16
    ids = torch.tensor([[0, 6, 3], [4, 0, 1]])
    out = emb(ids)
    assert out.shape == (2, 3, 3)
    for b in range(2):
        for f in range(3):
            row = emb.offsets[f] + ids[b, f]
            torch.testing.assert_close(out[b, f], emb.table.weight[row])


def test_same_id_in_different_fields_reads_different_rows() -> None:
    emb = FieldEmbedding(VOCAB, embedding_dim=4)
    out = emb(torch.tensor([[2, 2, 2]]))[0]
    assert not torch.equal(out[0], out[1])
    assert not torch.equal(out[1], out[2])


@pytest.mark.parametrize("ids", [[5, 0, 0], [0, 7, 0], [0, 0, 4], [-1, 0, 0], [0, 0, 100]])
def test_out_of_range_ids_raise(ids: list[int]) -> None:
    # [5, 0, 0] exists as a table row (field 1's first) but is out of range for field 0.
    emb = FieldEmbedding(VOCAB, embedding_dim=2)
    with pytest.raises(ValueError, match="ids must lie in"):
        emb(torch.tensor([ids]))


def test_wrong_number_of_fields_raises() -> None:
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        FieldEmbedding(VOCAB, embedding_dim=2)(torch.zeros(4, 2, dtype=torch.long))


def test_offsets_stay_out_of_the_state_dict_but_follow_the_module() -> None:
    emb = FieldEmbedding(VOCAB, embedding_dim=2)
    assert list(emb.state_dict()) == ["table.weight"]
    assert emb.to(torch.float64).offsets.dtype == torch.long


def test_split_parameters_separates_embedding_from_dense() -> None:
    model = nn.Sequential(FieldEmbedding(VOCAB, 3), nn.Flatten(), nn.Linear(9, 1))
    embedding, dense = split_parameters(model)
    assert [p.shape for p in embedding] == [torch.Size([16, 3])]
    assert [p.shape for p in dense] == [torch.Size([1, 9]), torch.Size([1])]
    model[2].bias.requires_grad_(False)
    assert len(split_parameters(model)[1]) == 1


def test_mlp_layers_and_output_dim() -> None:
    mlp = MLP(9, (8, 4), dropout=0.1, batch_norm=True)
    kinds = [type(m).__name__ for m in mlp.layers]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2
    assert mlp.output_dim == 4
    assert MLP(9, (8,), output_dim=2).output_dim == 2
    assert MLP(9).output_dim == 9
    assert mlp(torch.randn(5, 9)).shape == (5, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_units": (8, 0)}, "hidden_units"),
        ({"dropout": 1.0}, "dropout"),
        ({"activation": "swish2"}, "activation"),
        ({"output_dim": 0}, "output_dim"),
    ],
)
def test_mlp_rejects_bad_config(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MLP(9, **kwargs)


def _cross_reference(x0: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]):
    """DCN-V2 eq. 1 sample by sample: x_{l+1} = x_0 * (W_l x_l + b_l) + x_l."""
    rows = []
    for b in range(x0.shape[0]):
        x = x0[b]
        for w, bias in zip(weights, biases, strict=True):
            x = x0[b] * (w @ x + bias) + x
        rows.append(x)
    return torch.stack(rows)


def test_cross_net_matches_the_paper_equation() -> None:
    torch.manual_seed(0)
    cross = CrossNetV2(6, num_layers=3).double()
    x0 = torch.randn(4, 6, dtype=torch.float64)
    weights = [layer.weight for layer in cross.layers]
    biases = [layer.bias for layer in cross.layers]
    torch.testing.assert_close(cross(x0), _cross_reference(x0, weights, biases))


def test_low_rank_cross_equals_full_rank_with_w_set_to_u_vt() -> None:
    torch.manual_seed(0)
    low = CrossNetV2(6, num_layers=2, low_rank=2).double()
    full = CrossNetV2(6, num_layers=2).double()
    with torch.no_grad():
        for lo, fu in zip(low.layers, full.layers, strict=True):
            v_t, u = lo[0].weight, lo[1].weight  # (r, d), (d, r)
            fu.weight.copy_(u @ v_t)
            fu.bias.copy_(lo[1].bias)
    x0 = torch.randn(5, 6, dtype=torch.float64)
    torch.testing.assert_close(low(x0), full(x0))


def test_cross_net_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="num_layers"):
        CrossNetV2(6, num_layers=0)
    with pytest.raises(ValueError, match="low_rank"):
        CrossNetV2(6, num_layers=1, low_rank=0)
