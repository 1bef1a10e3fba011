"""One network per label over shared embedding tables: how every model predicts ``L`` labels.

The zoo's models produce their logit in very different ways (LR's and FM's sums of first-order
weights and pair terms, DeepFM's FM + MLP head, DCNv3's and FinalNet's averaged branches,
REACTION's towers), so there is no common "last hidden layer" to hang ``L`` heads on without
editing every model. What they do share is ``FieldEmbedding``: the tables that hold almost all
of a CTR model's parameters and that every label can learn from. So ``L`` labels are ``L``
copies of the configured network whose embedding tables are *the same modules* (the shared
bottom of ESMM, Ma et al. 2018), each copy ending in its own label-specific layers: one logit
per label, no per-model code, and a multi-tower model (REACTION) keeps its towers and its DTF
fusion per label. First-order weights (``FirstOrder``) are a label's own logit terms, not shared
features, so each copy keeps its own.

With one label nothing is wrapped: the net, its parameters, checkpoints and served outputs are
exactly those of a single-label run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from reaction.models.base import CTRModel, ModelOutput
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.linear import FirstOrder


class MultiLabelNet(CTRModel):
    """``(B, F) -> L`` training outputs (one per label, each ``(T, B)``); serves label 0.

    The CTR-model contract (``forward``, ``forward_train``, towers, ``served``) is label 0's,
    the primary label: costs, export and ``load_run`` see the network a single-label run of that
    label would serve. ``forward_labels`` and ``label_net`` give the other labels.
    """

    def __init__(self, nets: Sequence[CTRModel]) -> None:
        super().__init__()
        if len(nets) < 2:
            raise ValueError(f"MultiLabelNet needs >= 2 label networks, got {len(nets)}")
        self.nets = nn.ModuleList(nets)
        share_embeddings(self.nets[0], self.nets[1:])

    @property
    def num_labels(self) -> int:
        return len(self.nets)

    def label_net(self, label: int) -> CTRModel:
        return self.nets[label]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.nets[0](features)

    def forward_labels(
        self, features: torch.Tensor, with_hidden: bool = False
    ) -> list[ModelOutput]:
        return [net.forward_train(features, with_hidden) for net in self.nets]

    def forward_train(self, features: torch.Tensor, with_hidden: bool = False) -> ModelOutput:
        return self.nets[0].forward_train(features, with_hidden)

    @property
    def num_towers(self) -> int:
        return self.nets[0].num_towers

    @property
    def merges_towers(self) -> bool:
        return self.nets[0].merges_towers

    @property
    def served_index(self) -> int:
        return self.nets[0].served_index

    def choose_served(self, tower_auc: Sequence[float]) -> None:
        self.nets[0].choose_served(tower_auc)

    def served(self) -> nn.Module:
        return self.nets[0].served()


def shared_tables(net: nn.Module) -> dict[str, FieldEmbedding]:
    """``{path: table}`` of the embedding tables labels share (not first-order weights)."""
    first_order = {
        f"{name}.weights" for name, m in net.named_modules() if isinstance(m, FirstOrder)
    }
    return {
        name: m
        for name, m in net.named_modules()
        if isinstance(m, FieldEmbedding) and name not in first_order
    }


def share_embeddings(source: nn.Module, targets: Sequence[nn.Module]) -> None:
    """Make every shared table of each target the very module of ``source`` at the same path
    (the targets are built from the same config, so their paths and shapes match)."""
    for path, table in shared_tables(source).items():
        for target in targets:
            parent, _, attr = path.rpartition(".")
            owner = target.get_submodule(parent)
            if getattr(owner, attr).table.weight.shape != table.table.weight.shape:
                raise ValueError(f"label networks differ at {path}: cannot share its table")
            setattr(owner, attr, table)


def multi_label_net(build: Callable[[], CTRModel], num_labels: int) -> CTRModel:
    """``build()`` itself for one label (unchanged), else ``MultiLabelNet`` of ``num_labels``
    builds. Training and ``load_run`` both build through here, so checkpoints match."""
    if num_labels < 1:
        raise ValueError(f"num_labels must be >= 1, got {num_labels}")
    if num_labels == 1:
        return build()
    return MultiLabelNet([build() for _ in range(num_labels)])
