"""AFE pieces on hand-made inputs: extensions, plan JSON, the served path, config errors."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial

import numpy as np
import pytest
import torch

from reaction.afe.config import AFEConfig
from reaction.afe.extensions import (
    VocabCompression,
    compress_vocabulary,
    debiased_contributions,
    relevance_dims,
)
from reaction.afe.fit import afe_config
from reaction.afe.net import IB_KL, AFEInput, AFENet, build_net
from reaction.afe.plan import AFEPlan, PlannedField
from reaction.data.batch import Batch
from reaction.data.schema import FeatureMap, FieldSpec
from reaction.info.counts import FieldCounts
from reaction.info.estimators import value_contributions
from reaction.lit.ctr_module import CTRModule
from reaction.models.dnn import DNN
from reaction.models.fm import FM
from reaction.models.layers.embedding import GroupedFieldEmbedding
from reaction.models.layers.projection import SubspaceProjection

FEATURE_MAP = FeatureMap(
    tuple(FieldSpec(name, "categorical", size) for name, size in [("a", 6), ("b", 9), ("c", 4)])
)


def _plan(compress_b: bool = False, dims: dict[str, int] | None = None, **kw) -> AFEPlan:
    compression = VocabCompression((5, 3), 2, 0.9) if compress_b else None
    fields = (
        PlannedField("b", 9, None, 0.02, 0.02, 0.0, 0.0, compression, (dims or {}).get("b")),
        PlannedField("a", 6, "abc", 0.01, 0.01, 0.0, 0.001, None, (dims or {}).get("a")),
    )
    dropped = ({"field": "c", "reason": "noise", "mi": {"click": float("nan")}},)
    return AFEPlan("extended", ("click",), fields, dropped, **kw)


def test_compression_keeps_the_fewest_values_reaching_the_share() -> None:
    # ids 0, 1 special; value 4 carries most information, 2 some, 3 and 5 none
    counts = np.array([[50, 50], [50, 50], [80, 20], [50, 50], [5, 95], [50, 50]])
    field = FieldCounts("x", ("click",), np.arange(6), counts)
    c = debiased_contributions(counts, 0.0)
    kept = compress_vocabulary(field, mi_retain=0.9, tail_buckets=2, shrinkage=0.0)
    assert kept.kept == (4, 2)  # c(4) alone is below 90%
    assert c[4] / c.sum() < 0.9 <= (c[4] + c[2]) / c.sum()
    assert kept.compact_size == 2 + 2 + 2
    assert kept.remap(6).tolist() == [0, 1, 3, 4 + 3 % 2, 2, 4 + 5 % 2]
    # values without information never count, even at 100%: they share the tail rows
    assert compress_vocabulary(field, mi_retain=1.0, tail_buckets=2, shrinkage=0.0).kept == (4, 2)
    everything = compress_vocabulary(
        FieldCounts("y", ("click",), np.arange(4), counts[[0, 1, 2, 4]]), 1.0, 2, 0.0
    )
    assert everything.tail_buckets == 0 and everything.remap(6)[4:].tolist() == [1, 1]


def test_debiasing_removes_what_values_contribute_by_chance() -> None:
    """Independent labels: the plug-in c(x) averages (C - 1) / 2N per value; debiased ~0."""
    rng = np.random.default_rng(0)
    n = rng.integers(50, 500, 2000)
    clicks = rng.binomial(n, 0.3)
    table = np.stack([n - clicks, clicks], 1)
    raw = value_contributions(table, 0.0)
    assert raw.mean() == pytest.approx(1 / (2 * table.sum()), rel=0.1)
    assert debiased_contributions(table, 0.0).sum() < 0.5 * raw.sum()


def test_relevance_dims_are_powers_of_two_within_bounds() -> None:
    dims = relevance_dims(
        {"a": 0.04, "b": 0.01, "c": 0.0001, "d": 0.04},
        {"a": 1000, "b": 1000, "c": 1000, "d": 3},
        16,
        4,
    )
    # sqrt(1/4) * 16 = 8; sqrt(1/400) * 16 = 0.8 -> min_dim; "d" capped by its 3 values -> 4
    assert dims == {"a": 16, "b": 8, "c": 4, "d": 4}


def test_grouped_embedding_is_one_table_per_size_in_group_order() -> None:
    torch.manual_seed(0)
    layer = GroupedFieldEmbedding([5, 7, 3], [8, 4, 8])
    ids = torch.tensor([[1, 2, 0], [4, 6, 2]])
    out = layer(ids)
    assert out.shape == (2, 20) and layer.flat_dim == 20 and len(layer.groups) == 2
    four, eight = layer.groups  # ascending sizes
    assert torch.equal(out[:, :4], four.table.weight[ids[:, 1] + four.offsets[0]])
    assert torch.equal(out[:, 4:12], eight.table.weight[ids[:, 0]])
    assert sum(p.numel() for p in layer.parameters()) == 7 * 4 + (5 + 3) * 8


def test_bottleneck_adds_a_kl_term_in_training_only() -> None:
    torch.manual_seed(0)
    layer = SubspaceProjection(12, 3, ib_beta=0.5)
    layer.train()
    _, term = layer.forward_with_loss(torch.randn(8, 12))
    assert term is not None and term.item() > 0
    layer.eval()
    x = torch.randn(8, 12)
    z, term = layer.forward_with_loss(x)
    assert torch.equal(z, layer.mean(x)) and term is None


def test_ctr_module_adds_auxiliary_terms_to_the_loss() -> None:
    torch.manual_seed(0)
    plan = _plan(dims={"b": 8, "a": 4}, subspace_dim=3, ib_beta=1.0)
    net = build_net(partial(DNN, hidden_units=[4]), FEATURE_MAP, plan)
    module = CTRModule(net)
    module.log = lambda *args, **kwargs: None
    batch = Batch(torch.tensor([[1, 2, 3], [0, 8, 1]]), torch.tensor([[1.0], [0.0]]))
    torch.manual_seed(1)
    total = module.training_step(batch, 0)
    torch.manual_seed(1)
    out = net.forward_train(batch.features)
    logits, kl = out.logits[0], out.aux_losses[IB_KL]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch.labels[:, 0])
    assert total.item() == pytest.approx((bce + kl).item())


def test_plan_json_round_trip_is_exact_and_strict() -> None:
    plan = _plan(compress_b=True, dims={"b": 8, "a": 4}, subspace_dim=6, fitted_on={"rows": 10})
    text = plan.to_json()
    assert "NaN" not in text and json.loads(text)["dropped"][0]["mi"] == {"click": None}
    again = AFEPlan.from_dict(json.loads(text))
    assert again.fields == plan.fields and again.fingerprint() == plan.fingerprint()
    timed = replace(plan, fitted_on={"rows": 10, "seconds": 3.0})
    assert timed.fingerprint() == plan.fingerprint()  # provenance is not the model
    assert replace(plan, subspace_dim=5).fingerprint() != plan.fingerprint()


def test_served_path_reads_only_the_planned_fields_remapped() -> None:
    plan = _plan(compress_b=True)
    layer = AFEInput(plan, FEATURE_MAP)
    ids = torch.tensor([[2, 5, 3], [0, 3, 1], [1, 8, 0]])
    assert layer(ids).tolist() == [[2, 2], [3, 0], [2 + 2 + 8 % 2, 1]]
    other = ids.clone()
    other[:, 2] = torch.tensor([0, 2, 3])  # field "c" is outside the plan
    assert torch.equal(layer(other), layer(ids))
    with pytest.raises(ValueError, match="field 'b': ids must lie in \\[0, 9\\)"):
        layer(torch.tensor([[0, 9, 0]]))


def test_plan_refuses_a_different_vocabulary_and_missing_fields() -> None:
    plan = _plan()
    grown = FeatureMap((FieldSpec("a", "categorical", 7), *FEATURE_MAP.fields[1:]))
    with pytest.raises(ValueError, match="field 'a': the AFE plan was fitted on a vocabulary of 6"):
        plan.columns(grown)
    with pytest.raises(ValueError, match=r"AFE plan fields \['a'\] are not in the input"):
        plan.columns(FeatureMap(FEATURE_MAP.fields[1:]))


def test_checkpoint_state_carries_the_plan_and_refuses_another() -> None:
    net = build_net(partial(FM, embedding_dim=4), FEATURE_MAP, _plan())
    state = net.state_dict()
    fresh = build_net(partial(FM, embedding_dim=4), FEATURE_MAP, _plan())
    fresh.load_state_dict(state)
    ids = torch.tensor([[1, 2, 3], [0, 8, 1]])
    assert torch.equal(fresh.eval()(ids), net.eval()(ids))
    other = build_net(partial(FM, embedding_dim=4), FEATURE_MAP, _plan(compress_b=True))
    with pytest.raises(ValueError, match="checkpoint AFE plan .* differs from this net's plan"):
        other.load_state_dict(state)


def test_mixed_sizes_need_a_flat_embedding_model() -> None:
    plan = _plan(dims={"b": 8, "a": 4})
    with pytest.raises(ValueError, match="FM embeds each field at one size"):
        build_net(partial(FM, embedding_dim=8), FEATURE_MAP, plan)
    net = build_net(partial(DNN, embedding_dim=8, hidden_units=[4]), FEATURE_MAP, plan)
    assert isinstance(net, AFENet) and net.net.embedding.flat_dim == 12
    assert net(torch.tensor([[1, 2, 3]])).shape == (1,)


def test_config_errors_name_the_key_value_and_range() -> None:
    with pytest.raises(ValueError, match=r"mi_threshold=1.5 \(allowed: \[0, 1\]\)"):
        AFEConfig(variant="paper", mi_threshold=1.5)
    with pytest.raises(ValueError, match=r"num_fields=0 \(allowed: null or >= 1\)"):
        AFEConfig(variant="paper", num_fields=0)
    with pytest.raises(ValueError, match="ib_beta=0.1 needs a subspace_dim"):
        AFEConfig(variant="extended", ib_beta=0.1)
    with pytest.raises(ValueError, match=r"unknown afe key\(s\) \['num_field'\]"):
        afe_config({"variant": "paper", "num_field": 3})
