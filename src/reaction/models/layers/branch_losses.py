"""Training terms of models that predict with several branches and supervise each one.

DCNv3's Tri-BCE and FinalNet's block self-distillation are part of those models' published
training objectives, not of the shared one, so the models return them in their training output
(``ModelOutput.label_losses`` / ``aux_losses``) and the shared objective adds them.
``tri_bce`` is the one place Tri-BCE is computed: it takes the branch logits and the labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
