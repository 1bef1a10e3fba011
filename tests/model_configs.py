"""Every shipped model config, instantiated on small feature maps (shared by unit and DDP tests)."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from reaction.data.schema import FeatureMap, FieldSpec

CONF_MODEL = Path(__file__).resolve().parents[1] / "src" / "reaction" / "conf" / "model"
CONFIGS = sorted(CONF_MODEL.glob("*.yaml"))


def make_feature_map(vocab_sizes: tuple[int, ...]) -> FeatureMap:
    fields = tuple(FieldSpec(f"f{i}", "categorical", v) for i, v in enumerate(vocab_sizes))
    return FeatureMap(fields=fields, dataset="test")


# Large vocabularies so 64 random rows have (nearly) unique ids: overfitting is then possible.
# Two numeric fields with bucket values, as preprocessing writes them, for models that read
# magnitudes (AutoDis).
WIDE = FeatureMap(
    fields=(
        FieldSpec("n0", "numeric", 40),
        FieldSpec("n1", "numeric", 60),
        *(FieldSpec(f"c{i}", "categorical", v) for i, v in enumerate((300, 500, 700, 1000))),
    ),
    dataset="test",
    extra={"numeric": {"bucket_values": {"n0": list(range(38)), "n1": list(range(-5, 53))}}},
)


def _with_parents(path: Path) -> DictConfig:
    """A model file merged over the sibling model files its defaults list names (as Hydra
    composes ``reaction_product_implicit`` over ``reaction_product``); group overrides dropped."""
    node = OmegaConf.load(path)
    parents = [d for d in node.pop("defaults", []) if isinstance(d, str) and d != "_self_"]
    return OmegaConf.merge(*(_with_parents(path.with_name(f"{p}.yaml")) for p in parents), node)


def load_model_node(path: Path) -> DictConfig:
    """A ``conf/model`` file's ``name``/``net`` node; a global-package file (REACTION, which also
    picks its AFE and fusion) is resolved in a minimal context of the keys it interpolates."""
    node = _with_parents(path)
    if "model" not in node:
        return node
    context = OmegaConf.create(
        {"fusion": {"towers": 2, "serve": "best", "parametrization": "independent"}}
    )
    return OmegaConf.merge(context, node).model


def model_from_config(path: Path, feature_map: FeatureMap = WIDE) -> nn.Module:
    """The shipped config with a small embedding so property tests stay fast.

    Runtime objects go in through a partial: ``instantiate(cfg, feature_map=fm)`` would make Hydra
    convert the FeatureMap dataclass into a config node (it fails on ``extra``).
    """
    net = load_model_node(path).net
    if "embedding_dim" in net:
        net.embedding_dim = 4
    return instantiate(net, _partial_=True)(feature_map=feature_map)


class TrainingView(nn.Module):
    """``(B, F) -> (T, B)``: the logits a model trains on -- every tower of a multi-tower model
    (whose ``forward`` runs only the served tower), else ``(1, B)``. A module, so DDP can wrap it.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_train(features).logits


def training_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Summed BCE over the rows of ``TrainingView``'s ``(T, B)`` logits."""
    return sum(nn.functional.binary_cross_entropy_with_logits(z, labels) for z in logits)
