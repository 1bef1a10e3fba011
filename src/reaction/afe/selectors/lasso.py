"""LASSO, group-wise: logistic regression over the one-hot fields with a group-lasso penalty
``l1 sum_f sqrt(V_f) ||w_f||_2``, one group per field's block (Yuan & Lin 2006), so a field is
in or out as a whole. Proximal SGD: a plain gradient step on the log loss (``LR`` per step; not
Adam, whose per-coordinate scaling moves a rare value's weight as far as a frequent one's and so
grows a group's norm with its vocabulary), then the group soft-threshold. Score: ``||w_f||_2``;
a group shrunk to 0 is zeroed.

ERASE's ``lasso`` fits sklearn's linear ``Lasso`` on label-encoded ids (one weight per field on
an arbitrary ordinal); the issue's definition -- L1 logistic regression over one-hot fields,
grouped -- is the one built here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.search_net import Step, train
from reaction.models.layers.embedding import FieldEmbedding

LR = 1.0  # SGD step on the mean log loss: a value seen in a share p of rows moves ~ p per step


class OneHotLogistic(nn.Module):
    """``(B, F)`` ids -> ``(B,)`` logit ``b + sum_f w_f[id_f]``: LR on the one-hot blocks."""

    def __init__(self, vocab_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.weights = FieldEmbedding(vocab_sizes, 1)
        nn.init.zeros_(self.weights.table.weight)
        self.bias = nn.Parameter(torch.zeros(1))
        self.sizes = list(vocab_sizes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.weights(ids).sum(dim=(1, 2)) + self.bias

    def groups(self) -> list[torch.Tensor]:
        return list(torch.split(self.weights.table.weight.view(-1), self.sizes))


def lasso(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    model = OneHotLogistic(data.vocab_sizes)
    strength = LR * cfg.l1 * np.sqrt(np.asarray(data.vocab_sizes, dtype=np.float64))

    def shrink(step: Step) -> None:
        with torch.no_grad():
            for group, t in zip(model.groups(), strength, strict=True):
                norm = float(group.norm())
                group.mul_(max(0.0, 1.0 - t / norm) if norm > 0 else 0.0)

    sgd = lambda params: torch.optim.SGD(params, lr=LR)  # noqa: E731
    seconds = train(model, data, cfg, seed, after_step=shrink, optimizer=sgd)
    norms = [float(g.detach().norm()) for g in model.groups()]
    scores = dict(zip(data.fields, norms, strict=True))
    zeroed = frozenset(f for f, s in scores.items() if s == 0.0)
    return FieldScores(scores, zeroed, seconds)
