"""CTR models: ``forward((B, F) int64 ids) -> (B,) logits``; each takes ``feature_map`` first.

Each model is one file composing ``reaction.models.layers``; ``conf/model/<name>.yaml`` holds its
defaults (the Hydra ``model`` group is the registry).
"""

from reaction.models.apg import APG
from reaction.models.autodis import AutoDis
from reaction.models.autoint import AutoIntPlus
from reaction.models.dagfm import DAGFM
from reaction.models.dcn import DCN
from reaction.models.dcn_v2 import DCNv2
from reaction.models.dcn_v3 import DCNv3
from reaction.models.deepfm import DeepFM
from reaction.models.dnn import DNN
from reaction.models.fibinet import FiBiNET
from reaction.models.fignn import FiGNN
from reaction.models.final_mlp import FinalMLP
from reaction.models.final_net import FinalNet
from reaction.models.fm import FM
from reaction.models.fmfm import FmFM
from reaction.models.fwfm import FwFM
from reaction.models.gdcn import GDCN
from reaction.models.lr import LR
from reaction.models.pnn import PNN
from reaction.models.wide_deep import WideDeep
from reaction.models.xdeepfm import XDeepFM

__all__ = [
    "APG",
    "DAGFM",
    "DCN",
    "DNN",
    "FM",
    "GDCN",
    "LR",
    "PNN",
    "AutoDis",
    "AutoIntPlus",
    "DCNv2",
    "DCNv3",
    "DeepFM",
    "FiBiNET",
    "FiGNN",
    "FinalMLP",
    "FinalNet",
    "FmFM",
    "FwFM",
    "WideDeep",
    "XDeepFM",
]
