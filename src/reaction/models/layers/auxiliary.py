"""Extra training-loss terms that layers produce (bottleneck KL today, fusion terms later).

The model's output stays plain logits; ``CTRModule`` pops the pending terms after each training
forward, adds them to the loss and logs each under its module path.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# A term that needs the batch's labels (e.g. DCNv3's Tri-BCE): evaluated when popped.
LabelledTerm = Callable[[torch.Tensor], torch.Tensor]


class AuxiliaryLoss(nn.Module):
    """A module that adds a term to the training loss (read once per step by ``CTRModule``).

    The term is produced by ``forward`` in training mode and kept in ``auxiliary_loss`` until
    ``pop_auxiliary_loss`` takes it, so the model's output stays plain logits.
    """

    def __init__(self) -> None:
        super().__init__()
        self.auxiliary_loss: torch.Tensor | LabelledTerm | None = None

    def pop_auxiliary_loss(self) -> torch.Tensor | LabelledTerm | None:
        loss, self.auxiliary_loss = self.auxiliary_loss, None
        return loss


def pop_auxiliary_losses(
    net: nn.Module, labels: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Every pending auxiliary term of ``net``'s modules, by module path; a labelled term is
    evaluated on ``labels`` (``(B,)``), which it then needs."""
    out = {}
    for name, module in net.named_modules():
        if isinstance(module, AuxiliaryLoss):
            loss = module.pop_auxiliary_loss()
            if loss is not None and not isinstance(loss, torch.Tensor):
                if labels is None:
                    raise ValueError(f"auxiliary loss of {name or 'net'!r} needs the labels")
                loss = loss(labels)
            if loss is not None:
                out[name or "net"] = loss
    return out
