"""The contract every CTR model satisfies: one typed training output, one served module.

Training reads ``forward_train`` (all towers' logits, hidden states when the objective asks,
auxiliary losses as values); serving, costs and export read ``served()``, a plain
``(B, F) int64 -> (B,)`` module. A single-tower model only writes ``forward`` and gets ``T = 1``
from this base, so ``CTRModule`` trains baselines and REACTION through one path. Labels are a
separate axis (``forward_labels``): one output per label, ``L = 1`` from this base and ``L`` from
``reaction.models.multilabel.MultiLabelNet`` around any model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class ModelOutput:
    """What a model trains on.

    ``logits``: ``(T, B)``, one row per tower (``T = 1`` for single-tower models).
    ``hidden``: tower ``k``'s hidden layers, each ``(B, H_l)``; only when asked for.
    ``aux_losses``: extra loss terms by name (e.g. an information bottleneck's KL), already
    weighted; the training objective adds them.
    ``label_losses``: extra terms that need the labels, as functions of the ``(B,)`` labels
    (e.g. DCNv3's Tri-BCE over its branch logits); the objective calls and adds them.
    ``merged``: ``(B,)`` logits of the one network the towers merge into (``fusion=reparam``),
    which is what such a model serves; None when one of the towers is served.
    """

    logits: torch.Tensor
    hidden: list[list[torch.Tensor]] | None = None
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
    label_losses: dict[str, Callable[[torch.Tensor], torch.Tensor]] = field(default_factory=dict)
    merged: torch.Tensor | None = None

    @property
    def num_towers(self) -> int:
        return self.logits.shape[0]


class CTRModel(nn.Module, ABC):
    """Base of every model: ``forward`` is the served prediction, ``forward_train`` what
    training sees. Multi-tower models override ``num_towers``, ``forward_train``,
    ``choose_served`` and ``served``."""

    @abstractmethod
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits of the served prediction."""

    @property
    def num_towers(self) -> int:
        return 1

    @property
    def merges_towers(self) -> bool:
        """Whether the towers merge into one served network (``ModelOutput.merged``)."""
        return False

    @property
    def served_index(self) -> int:
        """Which row of ``forward_train``'s logits is served."""
        return 0

    def forward_train(self, features: torch.Tensor, with_hidden: bool = False) -> ModelOutput:
        """Every tower's logits; a single-tower model's own ``(1, B)``."""
        if with_hidden:
            raise ValueError(f"{type(self).__name__} has no tower hidden states to fuse")
        return ModelOutput(self(features).unsqueeze(0))

    @property
    def num_labels(self) -> int:
        """How many labels the net predicts (``forward_labels``); label 0 is served."""
        return 1

    def label_net(self, label: int) -> CTRModel:
        """The network of one label (its towers, its served tower); one label: the net itself."""
        if label != 0:
            raise IndexError(f"{type(self).__name__} predicts one label, asked for label {label}")
        return self

    def forward_labels(
        self, features: torch.Tensor, with_hidden: bool = False
    ) -> list[ModelOutput]:
        """One training output per label; what ``CTRModule`` trains and evaluates."""
        return [self.forward_train(features, with_hidden)]

    def choose_served(self, tower_auc: Sequence[float]) -> None:
        """Pick the served tower from the towers' validation AUCs (one tower: nothing to pick)."""

    def served(self) -> nn.Module:
        """The ``(B, F) -> (B,)`` module that is deployed: the model itself, or one tower."""
        return self
