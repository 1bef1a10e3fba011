"""Applying an AFE plan in front of any model: the served path ``ids -> plan -> model``.

``AFENet`` = ``AFEInput`` (the chosen columns, remapped to compact ids in one gather) + the model
built on the compact feature map. Fields outside the plan are never read, whatever the input
holds. The plan rides in the net's state dict (``get_extra_state``), so every checkpoint carries
it and loading weights into a net built from another plan fails loudly.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from reaction.afe.plan import AFEPlan
from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel, ModelOutput
from reaction.models.layers.embedding import GroupedFieldEmbedding, eager_checks_enabled
from reaction.models.layers.projection import SubspaceProjection

NetFactory = Callable[..., nn.Module]
IB_KL = "afe/ib_kl"  # the subspace bottleneck's loss term, as training logs it


class AFEInput(nn.Module):
    """``(B, F_in)`` ids of the input feature map -> ``(B, K)`` compact ids of the plan's fields."""

    def __init__(self, plan: AFEPlan, feature_map: FeatureMap) -> None:
        super().__init__()
        self.field_names = plan.field_names
        self.input_width = feature_map.num_fields
        sizes = [p.vocab_size for p in plan.fields]
        remaps = [
            p.compression.remap(p.vocab_size) if p.compression else np.arange(p.vocab_size)
            for p in plan.fields
        ]
        self.compressed = any(p.compression for p in plan.fields)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.register_buffer("columns", torch.tensor(plan.columns(feature_map)), persistent=False)
        self.register_buffer("sizes", torch.tensor(sizes), persistent=False)
        self.register_buffer("offsets", torch.from_numpy(offsets).long(), persistent=False)
        self.register_buffer("remap", torch.from_numpy(np.concatenate(remaps)), persistent=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        ids = features.index_select(1, self.columns)
        if eager_checks_enabled():
            self._check(features, ids)
        return self.remap[ids + self.offsets] if self.compressed else ids

    @torch.jit.unused
    def _check(self, features: torch.Tensor, ids: torch.Tensor) -> None:
        """Name the field whose ids fall outside the vocabulary the plan was fitted on."""
        if features.dim() != 2 or features.shape[1] != self.input_width:
            raise ValueError(
                f"expected ids of shape (B, {self.input_width}), got {tuple(features.shape)}"
            )
        bad = ((ids < 0) | (ids >= self.sizes)).any(dim=0)
        if bool(bad.any()):
            k = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"field {self.field_names[k]!r}: ids must lie in [0, {int(self.sizes[k])}), "
                f"got min {int(ids[:, k].min())} max {int(ids[:, k].max())}"
            )


class AFEEmbedding(nn.Module):
    """``(B, K)`` compact ids -> ``(B, flat_dim)``: per-field sizes, then the optional subspace.

    What a flat-input model (``embedding=`` argument, e.g. ``DNN``) gets from ``afe=extended``.
    """

    def __init__(self, plan: AFEPlan, embedding_dim: int, init_std: float = 1e-4) -> None:
        super().__init__()
        dims = [p.dim or embedding_dim for p in plan.fields]
        self.fields = GroupedFieldEmbedding([p.compact_size for p in plan.fields], dims, init_std)
        self.projection = (
            SubspaceProjection(sum(dims), plan.subspace_dim, plan.ib_beta)
            if plan.subspace_dim
            else None
        )
        self.flat_dim = plan.subspace_dim or sum(dims)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.forward_with_losses(ids)[0]

    def forward_with_losses(
        self, ids: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The embeddings and, while a bottleneck trains, its weighted KL (``afe/ib_kl``)."""
        x = self.fields(ids)
        if self.projection is None:
            return x, {}
        z, kl = self.projection.forward_with_loss(x)
        return z, ({IB_KL: kl} if kl is not None else {})


class AFENet(CTRModel):
    """``(B, F_in) -> (B,)`` logits of ``net`` on the plan's fields; carries the plan.

    A model behind a plan is still the same model: towers, the served choice and the training
    output are the inner model's, read through the plan's input.
    """

    def __init__(self, plan: AFEPlan, feature_map: FeatureMap, net: nn.Module) -> None:
        super().__init__()
        self.plan = plan
        self.feature_map = feature_map
        self.input = AFEInput(plan, feature_map)
        self.net = net

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(self.input(features))

    @property
    def num_towers(self) -> int:
        return self.net.num_towers

    @property
    def merges_towers(self) -> bool:
        return self.net.merges_towers

    @property
    def served_index(self) -> int:
        return self.net.served_index

    def forward_train(self, features: torch.Tensor, with_hidden: bool = False) -> ModelOutput:
        return self.net.forward_train(self.input(features), with_hidden)

    def choose_served(self, tower_auc: Sequence[float]) -> None:
        self.net.choose_served(tower_auc)

    def served(self) -> AFENet:
        """The served path: the plan in front of the model's served module."""
        return AFENet(self.plan, self.feature_map, self.net.served())

    def get_extra_state(self) -> dict:
        return {"afe_plan": self.plan.to_dict()}

    def set_extra_state(self, state: dict) -> None:
        loaded = AFEPlan.from_dict(state["afe_plan"])
        if loaded.fingerprint() != self.plan.fingerprint():
            raise ValueError(
                f"checkpoint AFE plan {loaded.fingerprint()} (fields {list(loaded.field_names)}) "
                f"differs from this net's plan {self.plan.fingerprint()} "
                f"(fields {list(self.plan.field_names)})"
            )


def _model_class(factory: NetFactory) -> Callable[..., nn.Module]:
    return factory.func if isinstance(factory, functools.partial) else factory


def takes_flat_embeddings(model: Callable[..., nn.Module]) -> bool:
    """Whether a model class takes its embeddings concatenated (an ``embedding`` argument, e.g.
    DNN, REACTION): what ``afe.dim_policy=relevance`` and ``afe.subspace_dim`` need."""
    return "embedding" in inspect.signature(model).parameters


def build_net(factory: NetFactory, feature_map: FeatureMap, plan: AFEPlan | None) -> nn.Module:
    """The model on all fields (no plan), or ``AFENet`` around the model on the plan's fields.

    ``factory`` is the model's partial config (``instantiate(cfg.model.net, _partial_=True)``).
    Mixed embedding sizes and the subspace projection need a model that takes its embeddings
    concatenated (an ``embedding`` argument); per-field models (FM, cross, attention) refuse them.
    """
    if plan is None:
        return factory(feature_map=feature_map)
    compact = plan.compact_feature_map(feature_map)
    if not (plan.mixed_dims or plan.subspace_dim):
        return AFENet(plan, feature_map, factory(feature_map=compact))
    model = _model_class(factory)
    params = inspect.signature(model).parameters
    if not takes_flat_embeddings(model):
        raise ValueError(
            f"{model.__name__} embeds each field at one size; afe.dim_policy=relevance and "
            "afe.subspace_dim need a model with flat embeddings (e.g. model=dnn), or set "
            "afe.dim_policy=uniform afe.subspace_dim=null"
        )
    keywords = factory.keywords if isinstance(factory, functools.partial) else {}
    dim = keywords.get("embedding_dim", params["embedding_dim"].default)
    init_std = keywords.get("init_std", params["init_std"].default)
    embedding = AFEEmbedding(plan, dim, init_std)
    return AFENet(plan, feature_map, factory(feature_map=compact, embedding=embedding))
