"""OptFS (Lyu et al., WWW 2023 / ERASE ``optfs``): one gate per feature *value*,
``sigmoid(temp * m_v) / sigmoid(0.5)``, ``m_v`` starting at 0.5; the temperature grows
geometrically to ``GAMMA`` over the epochs (continuous sparsification) and a penalty on the gates
pushes them shut. ERASE weighs the penalty's sum by a per-dataset constant (1e-8 .. 1e-4); here
``afe.search.l1`` weighs its mean. OptFS keeps or drops single values; for a plan, a field's
score is the mean mask weight ``m_v`` of its values over the holdout rows (our reduction: the
share of rows whose gate is open saturates at 1 for every field when few values are shut, as on
a small sample); a field whose every value is shut (``m_v <= 0``) is zeroed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.search_net import Gate, SearchNet, Step, train

GAMMA = 2000.0  # ERASE's final temperature for data sets other than Avazu
SCALE = 1.0 / (1.0 / (1.0 + math.exp(-0.5)))


class OptFSGate(Gate):
    def __init__(self, vocab_sizes: tuple[int, ...], epochs: int) -> None:
        super().__init__()
        self.mask = nn.Parameter(torch.full((sum(vocab_sizes),), 0.5))
        offsets = np.concatenate([[0], np.cumsum(vocab_sizes)[:-1]])
        self.register_buffer("offsets", torch.from_numpy(offsets).long())
        self.growth = GAMMA ** (1.0 / max(epochs - 1, 1))
        self.temp = 1.0

    def gates(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` gate of each row's value."""
        return torch.sigmoid(self.temp * self.mask[ids + self.offsets])

    def forward(self, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return emb * (SCALE * self.gates(ids)).unsqueeze(-1)


def optfs(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    gate = OptFSGate(data.vocab_sizes, cfg.epochs)
    net = SearchNet(data, cfg, gate)

    def anneal(step: Step) -> None:
        gate.temp = gate.growth**step.epoch  # 1 in the first epoch, GAMMA in the last

    def penalty(net: nn.Module) -> torch.Tensor:
        return cfg.l1 * torch.sigmoid(gate.temp * gate.mask).mean()

    seconds = train(net, data, cfg, seed, penalty=penalty, after_step=anneal)
    with torch.no_grad():
        weights = gate.mask[torch.from_numpy(data.holdout_ids) + gate.offsets]  # (n, F)
    scores = dict(zip(data.fields, weights.mean(0).tolist(), strict=True))
    zeroed = frozenset(
        f for f, w in zip(data.fields, weights.T, strict=True) if bool((w <= 0).all())
    )
    return FieldScores(scores, zeroed, seconds)
