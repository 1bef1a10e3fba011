"""Multi-label training: one network per label over shared tables, for every model; the
weighted objective; per-label metric keys; one label exactly as before; config errors."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from reaction.cli.validation import validate_config
from reaction.config.nodes import ConfigError
from reaction.data.batch import Batch
from reaction.data.schema import FeatureMap, FieldSpec
from reaction.fusion.config import FusionConfig
from reaction.fusion.objective import FusionObjective
from reaction.lit.ctr_module import CTRModule
from reaction.lit.labels import label_spec
from reaction.models.dnn import DNN
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.linear import FirstOrder
from reaction.models.multilabel import MultiLabelNet, multi_label_net, shared_tables
from reaction.models.reaction import REACTION
from tests.conftest import compose_train
from tests.model_configs import CONFIGS, WIDE, model_from_config
from tests.unit.test_models import random_features

TWO = ("click", "conversion")
SMALL = FeatureMap(
    fields=(FieldSpec("a", "categorical", 6), FieldSpec("b", "numeric", 4)), labels=TWO
)


def _batch(n: int = 32, labels: int = 2, seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    return Batch(
        random_features(WIDE, n, seed=seed), torch.randint(0, 2, (n, labels), generator=gen).float()
    )


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_model_gets_one_output_per_label_over_shared_tables(path: Path) -> None:
    torch.manual_seed(0)
    net = multi_label_net(lambda: model_from_config(path), 2)
    batch = _batch()
    outs = net.forward_labels(batch.features)
    assert len(outs) == 2 and all(o.logits.shape == (net.num_towers, 32) for o in outs)
    primary, other = shared_tables(net.nets[0]), shared_tables(net.nets[1])
    assert all(other[k] is table for k, table in primary.items())
    assert primary or path.stem == "lr"  # LR has first-order weights only: one LR per label
    first_order = [m.weights for m in net.nets[1].modules() if isinstance(m, FirstOrder)]
    assert all(t not in primary.values() for t in first_order)  # each label its own
    loss = sum(
        nn.functional.binary_cross_entropy_with_logits(z, batch.labels[:, k])
        for k, out in enumerate(outs)
        for z in out.logits
    )
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    torch.testing.assert_close(net.eval()(batch.features), net.nets[0](batch.features))


def test_one_label_is_the_plain_model_with_its_parameters() -> None:
    torch.manual_seed(0)
    plain = DNN(SMALL, embedding_dim=3, hidden_units=(5,))
    torch.manual_seed(0)
    built = multi_label_net(lambda: DNN(SMALL, embedding_dim=3, hidden_units=(5,)), 1)
    assert type(built) is DNN and built.state_dict().keys() == plain.state_dict().keys()
    assert all(
        torch.equal(a, b) for a, b in zip(plain.parameters(), built.parameters(), strict=True)
    )


def test_one_label_trains_bit_identically_to_bce_on_the_first_label() -> None:
    """Three Adam steps through CTRModule equal the single-label recipe done by hand."""
    torch.manual_seed(0)
    net = DNN(SMALL, embedding_dim=3, hidden_units=(5,))
    reference = copy.deepcopy(net)
    module = CTRModule(net, plateau_factor=None, labels=["click"], dataset_labels=TWO)
    optimizer = module.configure_optimizers()
    ref_module = CTRModule(reference, plateau_factor=None)
    ref_optimizer = ref_module.configure_optimizers()
    features = torch.tensor([[2, 3], [5, 0], [1, 1], [4, 2]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    for _ in range(3):
        loss = module.training_step(Batch(features, labels), 0)
        expected = nn.functional.binary_cross_entropy_with_logits(reference(features), labels[:, 0])
        assert torch.equal(loss, expected)
        for opt, value in ((optimizer, loss), (ref_optimizer, expected)):
            opt.zero_grad()
            value.backward()
            opt.step()
    assert all(
        torch.equal(a, b) for a, b in zip(net.parameters(), reference.parameters(), strict=True)
    )


def test_objective_sums_weighted_label_losses_and_keeps_dtf_per_label() -> None:
    torch.manual_seed(0)
    net = multi_label_net(lambda: REACTION(SMALL, embedding_dim=3, hidden_units=(6, 4)), 2)
    objective = FusionObjective(FusionConfig(kind="dtf", towers=2))
    batch = Batch(torch.tensor([[2, 3], [5, 0], [1, 1], [4, 2]]), torch.rand(4, 2).round())
    outs = net.forward_labels(batch.features, with_hidden=True)
    terms = objective.forward_labels(outs, batch.labels, (1.0, 0.5), TWO)
    expected = terms["click/loss"] + 0.5 * terms["conversion/loss"]
    torch.testing.assert_close(terms["total"], expected)
    for name in TWO:
        assert {f"{name}/srf", f"{name}/rrf", f"{name}/contra", f"{name}/ce/tower1"} <= set(terms)
        single = objective(outs[TWO.index(name)], batch.labels[:, TWO.index(name)])
        torch.testing.assert_close(terms[f"{name}/loss"], single["total"])


def test_per_label_metric_keys_with_the_primary_also_under_the_plain_ones() -> None:
    net = multi_label_net(lambda: DNN(SMALL, embedding_dim=3, hidden_units=(5,)), 2)
    module = CTRModule(net, labels=list(TWO), dataset_labels=TWO)
    features = torch.tensor([[2, 3], [5, 0], [1, 1], [4, 2]])
    module._evaluate(Batch(features, torch.tensor([[1.0, 0], [0, 1], [1, 1], [0, 0]])), "test")
    values = module._epoch_metrics("test")
    assert set(values) == {
        f"test/{label}{m}" for label in ("", "click/", "conversion/") for m in ("auc", "logloss")
    }
    assert values["test/auc"] == values["test/click/auc"]


def test_labels_are_read_by_name_in_any_order() -> None:
    spec = label_spec(["conversion", "click"], [2, 1], "click", TWO)
    assert (spec.columns, spec.weights, spec.monitor) == ((1, 0), (2.0, 1.0), "val/click/auc")
    assert label_spec(None, None, None, TWO).names == ("click",)
    net = multi_label_net(lambda: DNN(SMALL, embedding_dim=3, hidden_units=(5,)), 2)
    module = CTRModule(net, labels=["conversion", "click"], dataset_labels=TWO)
    batch = Batch(torch.zeros(2, 2, dtype=torch.long), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    assert module._targets(batch).tolist() == [[0.0, 1.0], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("labels", "weights", "monitor", "message"),
    [
        (["click", "conversoin"], None, None, "unknown label 'conversoin' (did you mean "),
        (["click", "conversion"], [1.0], None, "has 1 weights, module.labels=['click', "),
        (["click", "conversion"], [1.0, -0.5], None, "weight -0.5 of label 1 is negative"),
        (["click"], None, "conversion", "module.monitor_label='conversion' is not trained"),
        (["click", "click"], None, None, "a label is named twice"),
    ],
)
def test_label_config_errors_name_key_value_and_allowed(labels, weights, monitor, message) -> None:
    with pytest.raises(ConfigError, match="allowed|named twice") as error:
        label_spec(labels, weights, monitor, TWO)
    assert message in str(error.value)


def test_unknown_label_lists_the_datasets_labels() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown label 'purchase' \(allowed: click, conversion\)"
    ):
        label_spec(["purchase"], None, None, TWO)


def test_start_up_validation_reports_label_mistakes(tmp_path: Path) -> None:
    cfg = compose_train(
        [
            "module.labels=[click,conversion]",
            "module.label_weights=[1,-1,2]",
            "module.monitor_label=cvr",
            "fusion=kd",
        ],
        tmp_path,
        tmp_path,
    )
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    text = str(error.value)
    assert "module.label_weights=[1, -1, 2] has 3 weights" in text
    assert "weight -1 of label 1 is negative (allowed: weights >= 0)" in text
    assert "module.monitor_label='cvr' is not trained (allowed: one of module.labels" in text
    assert "fusion.kind='kd' with module.labels=['click', 'conversion']" in text


def test_a_label_monitor_is_a_valid_callback_monitor(tmp_path: Path) -> None:
    cfg = compose_train(
        ["module.labels=[click,conversion]", "callbacks.early_stopping.monitor=val/conversion/auc"],
        tmp_path,
        tmp_path,
    )
    validate_config(cfg)


def test_multilabel_net_needs_two_labels() -> None:
    with pytest.raises(ValueError, match=">= 2 label networks"):
        MultiLabelNet([DNN(SMALL, embedding_dim=3, hidden_units=(5,))])
    assert isinstance(next(iter(shared_tables(DNN(SMALL)).values())), FieldEmbedding)


def test_monitor_label_moves_checkpointing_and_early_stopping(tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from reaction.cli.train import _callbacks

    cfg = compose_train(["logger=none"], tmp_path, tmp_path)
    watched = [
        c.monitor
        for c in _callbacks(cfg.callbacks, "val/conversion/auc")
        if isinstance(c, EarlyStopping | ModelCheckpoint) and c.monitor is not None
    ]
    assert watched == ["val/conversion/auc"] * 2
    assert cfg.callbacks.early_stopping.monitor == "val/auc"  # the config itself is untouched
