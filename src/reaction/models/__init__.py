"""CTR models: ``forward((B, F) int64 ids) -> (B,) logits``; each takes ``feature_map`` first."""

from reaction.models.dcn_v2 import DCNv2
from reaction.models.dnn import DNN
from reaction.models.lr import LR

__all__ = ["DCNv2", "DNN", "LR"]
