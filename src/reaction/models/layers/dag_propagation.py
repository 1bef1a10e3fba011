"""DAGFM's propagation over a directed acyclic graph of fields (Tian et al., WSDM 2023)."""

from __future__ import annotations

import torch
from torch import nn

INTERACTIONS = ("inner", "outer")


class DAGPropagation(nn.Module):
    """``(B, F, D) -> [h_0, ..., h_depth]``, each ``(B, F, D)``: one state per interaction order.

    Fields are the nodes of a DAG with an edge ``i -> j`` for every ``i <= j`` (the upper
    triangle, self-loops included), so each step adds one order and no product is counted twice
    (the paper's dynamic-programming argument). ``h_0 = C E`` (``C``: a learned ``F x F`` mixing,
    identity at start); step ``t``: ``h_t[j] = h_0[j] * sum_{i <= j} m_t(i, j, h_{t-1}[i])`` with

    - ``inner``: ``m = p_t[i, j] * h[i]`` (a ``D``-vector per edge, element-wise);
    - ``outer``: ``m = <h[i], p_t[i, j]> q_t[i, j]`` (two ``D``-vectors per edge: a projection,
      then a direction).

    The edge weights are stored as full ``(depth, F, F, D)`` tensors masked to the triangle, as
    the official code does, so the parameter count is ``depth F^2 D`` (inner) or
    ``2 depth F^2 D`` (outer), plus ``F^2`` for ``C``.
    """

    def __init__(
        self, num_fields: int, embedding_dim: int, depth: int = 3, interaction: str = "outer"
    ) -> None:
        super().__init__()
        if interaction not in INTERACTIONS:
            raise ValueError(f"interaction must be one of {INTERACTIONS}, got {interaction!r}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        shape = (depth, num_fields, num_fields, embedding_dim)
        self.interaction = interaction
        self.connect = nn.Parameter(torch.eye(num_fields))
        self.p = nn.Parameter(torch.empty(shape))
        self.q = nn.Parameter(torch.empty(shape)) if interaction == "outer" else None
        for weights in (self.p, self.q):
            if weights is not None:
                for step in weights.data:  # per step: fan_in = fan_out = F D
                    nn.init.xavier_normal_(step, gain=1.414)
        mask = torch.ones(num_fields, num_fields).triu().unsqueeze(-1)  # (F, F, 1): i <= j
        self.register_buffer("mask", mask, persistent=False)

    @property
    def depth(self) -> int:
        return self.p.shape[0]

    def forward(self, embeddings: torch.Tensor) -> list[torch.Tensor]:
        h0 = torch.einsum("ij,bjd->bid", self.connect, embeddings)
        states, h = [h0], h0
        for t in range(self.depth):
            p = self.p[t] * self.mask
            if self.q is None:
                messages = torch.einsum("bid,ijd->bjd", h, p)
            else:
                projected = torch.einsum("bid,ijd->bij", h, p)
                messages = torch.einsum("bij,ijd->bjd", projected, self.q[t])
            h = h0 * messages
            states.append(h)
        return states
