"""SFS (ERASE ``sfs``, after "Single-shot Feature Selection", SIGIR 2023): a fixed all-ones mask
per field in front of the network; after training, each field's connection sensitivity
``|dL/dmask_f|`` is averaged over ``SAMPLING_BATCHES`` batches and normalised to sum to 1.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch
from torch import nn

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.search_net import Gate, SearchNet, batches, bce, train

SAMPLING_BATCHES = 100  # ERASE models/config.yaml num_batch_sampling


class MaskGate(Gate):
    def __init__(self, num_fields: int) -> None:
        super().__init__()
        self.mask = nn.Parameter(torch.ones(num_fields), requires_grad=False)

    def forward(self, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return emb * self.mask.view(1, -1, 1)


def sfs(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    start = time.perf_counter()
    gate = MaskGate(data.num_fields)
    net = SearchNet(data, cfg, gate)
    train(net, data, cfg, seed)
    gate.mask.requires_grad_(True)
    total = torch.zeros(data.num_fields)
    rng = np.random.default_rng(seed)
    sampled = itertools.islice(batches(data.ids, data.y, cfg.batch_size, rng), SAMPLING_BATCHES)
    for ids, y in sampled:
        net.zero_grad()
        bce(net, ids, y).backward()
        total += gate.mask.grad.abs()
    importance = (total / total.sum()).tolist()
    scores = dict(zip(data.fields, importance, strict=True))
    return FieldScores(scores, search_seconds=time.perf_counter() - start)
