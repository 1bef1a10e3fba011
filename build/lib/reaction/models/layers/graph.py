"""FiGNN's field graph (Li et al., CIKM 2019): fields as nodes of a fully connected graph.

Every field is a node whose state starts as its embedding. Each step, a node receives messages
from all other nodes, transformed by edge-wise matrices and weighted by attention learned from the
two fields, and updates its state with a GRU plus a residual to its embedding; after ``T`` steps
each node has seen interactions of order up to ``T + 1``. An attentional scoring layer then turns
the final node states into one logit.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class GraphLayer(nn.Module):
    """One step: ``a_i = W_in^i sum_{j != i} A[i, j] W_out^j h_j + b_p``, ``(B, F, D)``.

    The paper's edge-wise transformation: ``W_out^j`` (``w_out[j]``, ``D x D``) transforms the
    message leaving node ``j`` and ``W_in^i`` (``w_in[i]``) the aggregate entering node ``i``, so
    ``2 F`` matrices stand in for ``F^2`` edge matrices. ``W_in^i`` is factored out of the sum (it
    depends on the receiver only), as FuxiCTR.
    """

    def __init__(self, num_fields: int, embedding_dim: int) -> None:
        super().__init__()
        self.w_out = nn.Parameter(torch.empty(num_fields, embedding_dim, embedding_dim))
        self.w_in = nn.Parameter(torch.empty(num_fields, embedding_dim, embedding_dim))
        self.bias = nn.Parameter(torch.zeros(embedding_dim))
        for matrix in (*self.w_out.data, *self.w_in.data):
            nn.init.xavier_normal_(matrix)

    def forward(self, graph: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Adjacency ``(B, F, F)`` (row ``i``: weights of the nodes ``i`` hears), ``(B, F, D)``."""
        # einsum runs the per-field products as one (F, B, D) bmm: far faster on CPU than
        # broadcasting B * F separate (D, D) @ (D, 1) products.
        messages = torch.einsum("fde,bfe->bfd", self.w_out, h)  # W_out^j h_j
        aggregated = graph @ messages  # (B, F, D)
        return torch.einsum("fde,bfe->bfd", self.w_in, aggregated) + self.bias


class FieldGraph(nn.Module):
    """``(B, F, D) -> (B, F, D)``: FiGNN's gated graph neural network over fields.

    Attentional edge weights: ``A[i, j] = softmax_{j != i} LeakyReLU(w^T [e_i || e_j])`` computed
    once from the field embeddings ``e`` (no self-loops), so each sample gets its own graph. ``w``
    is applied as ``w_1^T e_i + w_2^T e_j``, which equals the concatenation form without building
    ``(B, F, F, 2D)``. Softmax over the nodes ``j`` that node ``i`` hears, as FuxiCTR.

    State update (GRU with residual connection): ``h^t = GRU(a^t, h^{t-1}) + e`` with one
    ``GRUCell`` shared by all nodes and steps and a separate ``GraphLayer`` per step (FuxiCTR's
    default). ``use_gru=False`` replaces the GRU by ``a^t + h^{t-1}``; ``use_residual=False`` drops
    ``+ e``.
    """

    def __init__(
        self,
        num_fields: int,
        embedding_dim: int,
        num_layers: int = 3,
        use_gru: bool = True,
        use_residual: bool = True,
    ) -> None:
        super().__init__()
        if num_fields < 2:
            raise ValueError(f"a field graph needs at least 2 fields, got {num_fields}")
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.embedding_dim = int(embedding_dim)
        self.use_residual = bool(use_residual)
        self.edge_attention = nn.Linear(2 * embedding_dim, 1, bias=False)
        self.layers = nn.ModuleList(
            GraphLayer(num_fields, embedding_dim) for _ in range(num_layers)
        )
        self.gru = nn.GRUCell(embedding_dim, embedding_dim) if use_gru else None
        self_loops = torch.eye(num_fields, dtype=torch.bool)
        self.register_buffer("self_loops", self_loops, persistent=False)

    def attention(self, e: torch.Tensor) -> torch.Tensor:
        """``(B, F, D) -> A (B, F, F)``: rows sum to 1, zero diagonal."""
        w_src, w_dst = self.edge_attention.weight.view(2, self.embedding_dim)
        logits = (e @ w_src).unsqueeze(2) + (e @ w_dst).unsqueeze(1)  # (B, F, F): [i, j]
        logits = F.leaky_relu(logits, negative_slope=0.01)
        return torch.softmax(logits.masked_fill(self.self_loops, float("-inf")), dim=-1)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``(B, F, D) -> (B, F, D)``."""
        graph = self.attention(e)
        h = e
        for layer in self.layers:
            a = layer(graph, h)
            if self.gru is not None:
                h = self.gru(a.flatten(end_dim=1), h.flatten(end_dim=1)).view_as(e)
            else:
                h = a + h
            if self.use_residual:
                h = h + e
        return h


class AttentionalScoring(nn.Module):
    """``(B, F, D) -> (B,)``: ``y = sum_i a_i * s_i`` over the final node states.

    ``s_i = MLP_1(h_i)`` scores each node with a ``Linear(D, 1)`` shared by all nodes;
    ``a = sigmoid(MLP_2(h))`` weighs the nodes with ``Linear(F * D, F)`` reading all node states
    at once, as FuxiCTR (the paper's ``MLP_2`` reads one node). Neither has a bias, as FuxiCTR.
    """

    def __init__(self, num_fields: int, embedding_dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(embedding_dim, 1, bias=False)
        self.attention = nn.Linear(num_fields * embedding_dim, num_fields, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, F, D) -> (B,)``."""
        scores = self.score(h).squeeze(-1)  # (B, F)
        weights = torch.sigmoid(self.attention(h.flatten(start_dim=1)))  # (B, F)
        return (weights * scores).sum(dim=1)
