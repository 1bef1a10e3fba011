"""The network the learned selectors train on the row sample, and its training loop.

``(B, F) ids -> FieldEmbedding -> gate -> MLP -> (B,) logit``: the shared layers of every model
(``reaction.models.layers``) with a method's gate between embedding and tower, as in ERASE's
``BaseModel`` (embedding -> feature-selection module -> backbone). The gate sees the embeddings
``(B, F, D)`` and the raw ids (OptFS masks single values) and returns gated embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from reaction.afe.selectors.base import SearchConfig, SearchData
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.mlp import MLP


class Gate(nn.Module):
    """Identity gate (SFS's mask, permutation importance): subclasses weigh the fields."""

    def forward(self, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return emb


class SearchNet(nn.Module):
    """Embedding, gate, MLP tower; returns logits ``(B,)``."""

    def __init__(self, data: SearchData, cfg: SearchConfig, gate: Gate) -> None:
        super().__init__()
        self.embedding = FieldEmbedding(data.vocab_sizes, cfg.embedding_dim, init_std=1e-2)
        self.gate = gate
        self.tower = MLP(self.embedding.flat_dim, cfg.hidden_units, output_dim=1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        emb = self.gate(self.embedding(ids), ids)
        return self.tower(emb.flatten(1)).squeeze(-1)


@dataclass
class Step:
    """What a method's hook sees after each optimizer step."""

    epoch: int
    step: int
    net: nn.Module


Hook = Callable[[Step], None]
Penalty = Callable[[nn.Module], torch.Tensor]
Optimizer = Callable[[list[nn.Parameter]], torch.optim.Optimizer]


def batches(
    ids: NDArray, y: NDArray, batch_size: int, rng: np.random.Generator | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Tensors of ``batch_size`` rows, shuffled when ``rng`` is given."""
    order = rng.permutation(len(y)) if rng is not None else np.arange(len(y))
    for start in range(0, len(y), batch_size):
        rows = order[start : start + batch_size]
        yield torch.from_numpy(ids[rows]), torch.from_numpy(y[rows])


def bce(net: nn.Module, ids: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.binary_cross_entropy_with_logits(net(ids), y)


def train(
    net: nn.Module,
    data: SearchData,
    cfg: SearchConfig,
    seed: int,
    params: list[nn.Parameter] | None = None,
    penalty: Penalty | None = None,
    after_step: Hook | None = None,
    optimizer: Optimizer | None = None,
) -> float:
    """``optimizer`` (default Adam at ``cfg.lr``) on ``params`` (default: all) for ``cfg.epochs``;
    returns the seconds it took."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    trained = list(params if params is not None else net.parameters())
    opt = optimizer(trained) if optimizer else torch.optim.Adam(trained, lr=cfg.lr)
    step = 0
    net.train()
    for epoch in range(cfg.epochs):
        for ids, y in batches(data.ids, data.y, cfg.batch_size, rng):
            loss = bce(net, ids, y)
            if penalty is not None:
                loss = loss + penalty(net)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step(Step(epoch, step, net))
            step += 1
    net.eval()
    return time.perf_counter() - start


@torch.no_grad()
def predict(net: nn.Module, ids: NDArray, batch_size: int = 8192) -> NDArray:
    """Logits of every row of ``ids`` (eval mode)."""
    net.eval()
    out = [net(x) for x, _ in batches(ids, np.zeros(len(ids), np.float32), batch_size, None)]
    return torch.cat(out).numpy()
