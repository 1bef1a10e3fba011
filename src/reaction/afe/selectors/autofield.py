"""AutoField (Wang et al., WWW 2022 / ERASE ``autofield``): a keep/drop pair of logits per field,
relaxed with Gumbel-softmax (temperature annealed from 1 by 5e-5 a step, floor 0.01), the keep
probability scaling the field's embedding. DARTS-style bi-level search: the network trains on the
fit rows, the gates take an Adam step on a holdout batch every ``UPDATE_EVERY`` steps (ERASE's
``update_frequency``). Score: the keep probability ``softmax(gate)[keep]`` (ERASE ranks the raw
keep logit; the probability also reads the drop logit); a field whose drop logit wins is zeroed.
"""

from __future__ import annotations

import time
from itertools import cycle

import torch
from torch import nn

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.search_net import Gate, SearchNet, Step, batches, bce, train

UPDATE_EVERY = 10  # ERASE models/config.yaml
TAU_STEP, TAU_MIN = 5e-5, 0.01


class AutoFieldGate(Gate):
    def __init__(self, num_fields: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.full((num_fields, 2), 0.5))
        self.tau = 1.0

    def forward(self, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        if self.training:
            keep = nn.functional.gumbel_softmax(self.logits, tau=self.tau, hard=False)[:, 1]
        else:
            keep = self.keep()
        return emb * keep.view(1, -1, 1)

    def keep(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=-1)[:, 1]


def autofield(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    gate = AutoFieldGate(data.num_fields)
    net = SearchNet(data, cfg, gate)
    arch = torch.optim.Adam([gate.logits], lr=cfg.lr)
    holdout = cycle(list(batches(data.holdout_ids, data.holdout_y, cfg.batch_size, None)))

    def arch_step(step: Step) -> None:
        gate.tau = max(TAU_MIN, gate.tau - TAU_STEP)
        if step.step % UPDATE_EVERY == 0:
            ids, y = next(holdout)
            arch.zero_grad()
            bce(net, ids, y).backward()
            arch.step()

    start = time.perf_counter()
    weights = [p for name, p in net.named_parameters() if not name.startswith("gate.")]
    train(net, data, cfg, seed, params=weights, after_step=arch_step)
    keep = gate.keep().detach()
    scores = dict(zip(data.fields, keep.tolist(), strict=True))
    zeroed = frozenset(f for f, k in scores.items() if k < 0.5)
    return FieldScores(scores, zeroed, time.perf_counter() - start)
