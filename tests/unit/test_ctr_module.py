"""CTRModule: separate optimizer groups for embeddings, the plateau schedule, argument checks."""

import pytest
import torch

from reaction.data.batch import Batch
from reaction.data.schema import FeatureMap, FieldSpec
from reaction.lit.ctr_module import CTRModule
from reaction.models.dnn import DNN

FEATURE_MAP = FeatureMap(fields=(FieldSpec("a", "categorical", 6), FieldSpec("b", "numeric", 4)))


def _module(**kwargs) -> CTRModule:
    return CTRModule(DNN(FEATURE_MAP, embedding_dim=3, hidden_units=(5,)), **kwargs)


def test_embedding_and_dense_parameters_get_their_own_lr_and_weight_decay() -> None:
    module = _module(lr=1e-3, weight_decay=1e-5, embedding_lr=3e-3, embedding_weight_decay=3e-4)
    optimizer = module.configure_optimizers()["optimizer"]
    embedding_group, dense_group = optimizer.param_groups
    assert (embedding_group["lr"], embedding_group["weight_decay"]) == (3e-3, 3e-4)
    assert (dense_group["lr"], dense_group["weight_decay"]) == (1e-3, 1e-5)
    assert [p.shape for p in embedding_group["params"]] == [torch.Size([10, 3])]
    n_dense = sum(p.numel() for p in dense_group["params"])
    assert n_dense == (6 * 5 + 5) + (5 + 1)


def test_plateau_schedule_cuts_every_lr_when_val_auc_stalls() -> None:
    config = _module(lr=1e-3, embedding_lr=2e-3, plateau_factor=0.1).configure_optimizers()
    scheduler = config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["monitor"] == "val/auc"
    scheduler.step(0.70)
    scheduler.step(0.69)  # no improvement: patience 0 cuts at once
    lrs = [g["lr"] for g in config["optimizer"].param_groups]
    assert lrs == pytest.approx([2e-4, 1e-4])


def test_without_plateau_factor_only_the_optimizer_is_returned() -> None:
    assert isinstance(_module(plateau_factor=None).configure_optimizers(), torch.optim.Adam)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "learning rates must be > 0"),
        ({"embedding_weight_decay": -1.0}, "weight decays must be >= 0"),
        ({"plateau_factor": 1.5}, "plateau_factor must be in (0, 1)"),
    ],
)
def test_bad_arguments_are_rejected_with_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _module(**kwargs)


def test_training_step_is_bce_on_the_first_label() -> None:
    module = _module()
    features = torch.tensor([[2, 3], [5, 0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = module.training_step(Batch(features, labels), 0)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(module(features), labels[:, 0])
    assert loss.item() == pytest.approx(expected.item())
