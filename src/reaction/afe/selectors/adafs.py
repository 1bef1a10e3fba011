"""AdaFS (Lin et al., KDD 2022 / ERASE ``adafs``): a controller reads the batch-normalised
embeddings of a sample and outputs a softmax weight per field, which scales that field's
embedding; controller and network train together (ERASE's ``normal`` mode, no pre-training).
AdaFS selects per sample; for a plan (one field set for every row) the field's score is its mean
controller weight on the holdout rows -- our reduction, as ERASE defines no ranking for AdaFS.
"""

from __future__ import annotations

import torch
from torch import nn

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.search_net import Gate, SearchNet, batches, train
from reaction.models.layers.mlp import MLP

HIDDEN, DROPOUT = 16, 0.2  # ERASE models/config.yaml


class AdaFSGate(Gate):
    def __init__(self, num_fields: int, embedding_dim: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(embedding_dim)
        self.controller = MLP(num_fields * embedding_dim, [HIDDEN], DROPOUT, output_dim=num_fields)

    def weights(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, F, D)`` -> normalised embeddings and ``(B, F)`` field weights."""
        normed = self.norm(emb.transpose(1, 2)).transpose(1, 2)
        return normed, torch.softmax(self.controller(normed.flatten(1)), dim=-1)

    def forward(self, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        normed, weight = self.weights(emb)
        return normed * weight.unsqueeze(-1)


def adafs(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    gate = AdaFSGate(data.num_fields, cfg.embedding_dim)
    net = SearchNet(data, cfg, gate)
    seconds = train(net, data, cfg, seed)
    with torch.no_grad():
        total = torch.zeros(data.num_fields)
        for ids, _ in batches(data.holdout_ids, data.holdout_y, 8192, None):
            total += gate.weights(net.embedding(ids))[1].sum(0)
    mean = (total / len(data.holdout_y)).tolist()
    return FieldScores(dict(zip(data.fields, mean, strict=True)), search_seconds=seconds)
