"""Training terms of models that predict with several branches and supervise each one.

DCNv3's Tri-BCE and FinalNet's block self-distillation are part of those models' published
training objectives, not of the shared one, so they travel as auxiliary terms
(``reaction.models.layers.auxiliary``). ``tri_bce`` is the one place Tri-BCE is computed: it
takes the branch logits and the labels, whoever calls it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F

from reaction.models.layers.auxiliary import AuxiliaryLoss


def tri_bce(deep: torch.Tensor, shallow: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """DCNv3's Tri-BCE minus its main term: ``w_D L_D + w_S L_S`` (arXiv 2407.13349, eq. 10-11).

    ``(B,)`` deep (ECN) and shallow (LCN) logits, ``(B,)`` labels. With ``L`` the BCE of the
    served logit ``(deep + shallow) / 2`` and ``L_D``, ``L_S`` the branches' BCEs, the weights
    ``w = max(L_branch - L, 0)`` push a branch only while it is worse than the ensemble. As in
    the reference code the weights are not detached. The full Tri-BCE is ``L`` plus this.
    """
    loss = F.binary_cross_entropy_with_logits((deep + shallow) / 2, labels)
    loss_deep = F.binary_cross_entropy_with_logits(deep, labels)
    loss_shallow = F.binary_cross_entropy_with_logits(shallow, labels)
    return loss_deep * torch.relu(loss_deep - loss) + loss_shallow * torch.relu(loss_shallow - loss)


def block_self_distillation(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """FinalNet's extra term for two blocks (FuxiCTR ``FinalNet.add_loss``, block type 2B).

    ``(B,)`` logits of each block; each is pulled towards the (detached) probability of their
    average, the served prediction: ``BCE(s_1, p) + BCE(s_2, p)``, ``p = sigmoid((s_1+s_2)/2)``.
    """
    target = torch.sigmoid((first + second) / 2).detach()
    return F.binary_cross_entropy_with_logits(first, target) + F.binary_cross_entropy_with_logits(
        second, target
    )


class BranchLoss(AuxiliaryLoss):
    """Keeps a training forward's branch logits as a pending term ``term(*branches, labels)``.

    The term is evaluated when ``pop_auxiliary_losses`` is given the labels; in eval mode the
    call does nothing, so serving and export see only the model's logits.
    """

    def __init__(self, term: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.term = term

    def forward(self, *branches: torch.Tensor) -> None:
        if self.training:
            self.auxiliary_loss = functools.partial(self.term, *branches)


class SelfDistillation(AuxiliaryLoss):
    """FinalNet's ``block_self_distillation`` as a pending term (it needs no labels)."""

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> None:
        if self.training:
            self.auxiliary_loss = block_self_distillation(first, second)
