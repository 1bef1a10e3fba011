"""LPFS (Guo et al., KDD 2022 / ERASE ``lpfs``): a scalar ``x_f`` per field passed through the
smoothed-l0 gate ``g(x) = sign(x) x^2/(x^2+eps) + alpha eps^(1/tau) atan(x)``; ``eps`` starts at
0.1 and shrinks by 0.9978 every 100 steps (the gate sharpens towards 0/1), and after each step
``x`` is soft-thresholded by ``0.01 lr`` (ERASE's proximal l1). Score: ``x_f``; 0 is zeroed.
"""

from __future__ import annotations

import torch
from torch import nn

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.search_net import Gate, SearchNet, Step, train

EPS0, EPS_DECAY, EPS_EVERY = 0.1, 0.9978, 100
ALPHA, TAU = 10.0, 2.0


class LPFSGate(Gate):
    def __init__(self, num_fields: int) -> None:
        super().__init__()
        self.x = nn.Parameter(torch.ones(num_fields))
        self.eps = EPS0

    def gate(self) -> torch.Tensor:
        x, eps = self.x, self.eps
        smooth = x * x / (x * x + eps)
        linear = ALPHA * eps ** (1.0 / TAU) * torch.atan(x)
        return torch.where(x > 0, linear + smooth, linear - smooth)

    def forward(self, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return emb * self.gate().view(1, -1, 1)


def lpfs(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    gate = LPFSGate(data.num_fields)
    net = SearchNet(data, cfg, gate)
    threshold = 0.01 * cfg.lr

    def prox(step: Step) -> None:
        if step.step % EPS_EVERY == 0:
            gate.eps *= EPS_DECAY
        with torch.no_grad():
            x = gate.x
            x.copy_(torch.sign(x) * torch.clamp(x.abs() - threshold, min=0.0))

    seconds = train(net, data, cfg, seed, after_step=prox)
    scores = dict(zip(data.fields, gate.x.detach().tolist(), strict=True))
    zeroed = frozenset(f for f, s in scores.items() if s == 0.0)
    return FieldScores(scores, zeroed, seconds)
