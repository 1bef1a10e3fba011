"""Every shipped model config, instantiated on small feature maps (shared by unit and DDP tests)."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from reaction.data.schema import FeatureMap, FieldSpec

CONF_MODEL = Path(__file__).resolve().parents[1] / "conf" / "model"
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


def model_from_config(path: Path, feature_map: FeatureMap = WIDE) -> nn.Module:
    """The shipped config with a small embedding so property tests stay fast.

    Runtime objects go in through a partial: ``instantiate(cfg, feature_map=fm)`` would make Hydra
    convert the FeatureMap dataclass into a config node (it fails on ``extra``).
    """
    net = OmegaConf.load(path).net
    if "embedding_dim" in net:
        net.embedding_dim = 4
    return instantiate(net, _partial_=True)(feature_map=feature_map)
