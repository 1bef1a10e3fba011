"""FiBiNET's two blocks (Huang et al., RecSys 2019): SENET field re-weighting and bilinear pairs.

SENET learns a per-sample importance for every field from the fields themselves and rescales the
embeddings; the bilinear interaction replaces the inner or Hadamard product of a field pair by
``(v_i W) * v_j``, a learned middle ground between the two.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from reaction.models.layers.factorization import FieldPairs

BilinearType = Literal["field_all", "field_each", "field_interaction"]
BILINEAR_TYPES = ("field_all", "field_each", "field_interaction")
EXCITATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}


class SqueezeExcitation(nn.Module):
    """``(B, F, D) -> (B, F, D)``: ``V = A * E`` with per-field weights ``A`` (the SENET layer).

    Squeeze: ``z_f = mean_d E[f, d]`` (eq. 1, mean pooling as the paper). Excitation:
    ``A = s(W_2 ReLU(W_1 z))`` with ``W_1`` of shape ``(F / r, F)`` and ``W_2`` of shape
    ``(F, F / r)``, no biases (eq. 2), where ``F / r = max(1, F // reduction_ratio)``. The output
    activation ``s`` is ``relu`` (FuxiCTR's default) or ``sigmoid``; the weights
    lie in its range. ``weights(E)`` returns ``A`` for inspection and tests.
    """

    def __init__(
        self, num_fields: int, reduction_ratio: float = 3.0, activation: str = "relu"
    ) -> None:
        super().__init__()
        if num_fields < 1:
            raise ValueError(f"num_fields must be >= 1, got {num_fields}")
        if reduction_ratio < 1:
            raise ValueError(f"reduction_ratio must be >= 1, got {reduction_ratio}")
        if activation not in EXCITATIONS:
            raise ValueError(f"activation must be one of {sorted(EXCITATIONS)}, got {activation!r}")
        reduced = max(1, int(num_fields // reduction_ratio))
        self.excitation = nn.Sequential(
            nn.Linear(num_fields, reduced, bias=False),
            nn.ReLU(),
            nn.Linear(reduced, num_fields, bias=False),
            EXCITATIONS[activation](),
        )

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F, D) -> A (B, F)``."""
        return self.excitation(x.mean(dim=-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F, D) -> (B, F, D)``: each field's embedding times its weight (eq. 3)."""
        return x * self.weights(x).unsqueeze(-1)


class BilinearInteraction(nn.Module):
    """``(B, F, D) -> (B, P, D)``, ``P = F (F - 1) / 2``: ``p_ij = (v_i W) * v_j`` for ``i < j``.

    The paper's bilinear-interaction layer, pairs in ``itertools.combinations`` order. The matrix
    ``W`` (``D x D``) is shared by all pairs (``field_all``), one per left field ``W_i``
    (``field_each``) or one per pair ``W_ij`` (``field_interaction``, the default here and in
    FuxiCTR). ``weight`` holds ``(1 | F | P, D, D)`` matrices, Xavier-normal initialised like
    FuxiCTR. The pairs are gathered by the shared ``FieldPairs`` index buffers, so all of them are
    computed in one batched product.
    """

    def __init__(
        self,
        num_fields: int,
        embedding_dim: int,
        bilinear_type: BilinearType = "field_interaction",
    ) -> None:
        super().__init__()
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        if bilinear_type not in BILINEAR_TYPES:
            raise ValueError(
                f"bilinear_type must be one of {BILINEAR_TYPES}, got {bilinear_type!r}"
            )
        self.pairs = FieldPairs(num_fields)  # raises for fewer than 2 fields
        self.bilinear_type = bilinear_type
        self.num_pairs = self.pairs.num_pairs
        num_matrices = {
            "field_all": 1,
            "field_each": num_fields,
            "field_interaction": self.num_pairs,
        }
        self.weight = nn.Parameter(
            torch.empty(num_matrices[bilinear_type], embedding_dim, embedding_dim)
        )
        for matrix in self.weight.data:
            nn.init.xavier_normal_(matrix)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F, D) -> (B, P, D)``."""
        left, right = self.pairs(x)  # (B, P, D) each
        if self.bilinear_type == "field_interaction":
            # The left field of pair k times its own W_k; einsum runs it as one (P, B, D) bmm,
            # ~20x faster on CPU than broadcasting B * P separate (1, D) @ (D, D) products.
            projected = torch.einsum("bpd,pde->bpe", left, self.weight)
        elif self.bilinear_type == "field_each":
            # Project every field once with its own W_i, then gather the left fields.
            projected = torch.einsum("bfd,fde->bfe", x, self.weight)[:, self.pairs.left]
        else:
            projected = left @ self.weight[0]
        return projected * right
