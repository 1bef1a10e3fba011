"""DTF's towers: ``T`` lightweight MLPs with their own heads over one shared input, and the
rules for how many there may be and which one is served (``FusionConfig`` checks them).

A tower may start with a few low-rank cross layers (``cross_layers``, DCN-V2's eq. 2): an MLP
learns multiplicative field interactions only slowly, and ``r``-rank crosses add them for
``2 K r + K`` parameters per layer -- a small share of a tower over ``K`` inputs. Towers may
differ (``cross_layers`` and ``cross_rank`` per tower, e.g. ``[1, 3]`` and ``[8, null]``): a
richer peer trained beside a small served tower passes on what it learns through the fusion
terms, while every tower keeps the same hidden widths that DTF's feature-level terms compare.

A tower may also add FwFM's pairwise term to its logit (``pairwise``): ``sum_{i<j} r_ij <v_i,
v_j>`` over the field embeddings, for ``F (F - 1) / 2`` scalars. An MLP has to learn to multiply
two fields' embeddings; the term hands it every field pair's inner product, which is exactly how
an affinity such as user x item is stored -- for a few hundred parameters and no new layer width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.models.layers.factorization import FieldWeightedInteraction
from reaction.models.layers.interactions import CrossNetV2
from reaction.models.layers.mlp import MLP

MAX_TOWERS = 8  # the paper scales DTF from 1 to 8 towers


def tower_count_problem(towers: object) -> str | None:
    """Why ``towers`` is not a usable tower count, or None."""
    if isinstance(towers, int) and not isinstance(towers, bool) and 1 <= towers <= MAX_TOWERS:
        return None
    return f"fusion.towers={towers!r} (allowed: 1..{MAX_TOWERS})"


def serve_problem(serve: object, num_towers: int) -> str | None:
    """Why ``fusion.serve`` cannot pick one of ``num_towers`` towers, or None."""
    index = isinstance(serve, int) and not isinstance(serve, bool)
    if serve == "best" or (index and 0 <= serve < num_towers):
        return None
    return f"fusion.serve={serve!r} (allowed: 'best' or 0..{num_towers - 1})"


def per_tower(
    value: int | None | Sequence[int | None], num_towers: int, name: str
) -> list[int | None]:
    """One value for every tower, or a list: tower ``k`` takes entry ``k`` and towers past its
    end its last entry, so ``[0, 3]`` means "the served tower 0 plain, every peer 3" at any
    tower count (entries past ``num_towers`` describe peers this run does not train)."""
    if value is None or isinstance(value, int):
        return [value] * num_towers
    values = list(value)
    if not values:
        raise ValueError(f"{name}=[] (allowed: a value or a non-empty list, one per tower)")
    return [values[min(k, len(values) - 1)] for k in range(num_towers)]


# ``(T, B)`` logits and, per tower, its hidden layers ``(B, H_l)``: what DTF fuses.
TowerPass = tuple[torch.Tensor, list[list[torch.Tensor]]]


class Tower(nn.Module):
    """``(B, K) -> (B,)``: [low-rank crosses ->] an MLP and its own logit head [+ FwFM's pairwise
    term over the ``pair_fields`` equal-width field embeddings that ``K`` concatenates]; what a
    served REACTION model runs. The MLP's hidden layers are what DTF fuses."""

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int],
        dropout: float,
        batch_norm: bool,
        activation: str,
        cross_layers: int = 0,
        cross_rank: int | None = 16,
        pair_fields: int | None = None,
    ) -> None:
        super().__init__()
        if not hidden_units:
            raise ValueError("a DTF tower needs at least one hidden layer to fuse")
        if cross_layers < 0:
            raise ValueError(f"cross_layers must be >= 0, got {cross_layers}")
        self.cross = CrossNetV2(input_dim, cross_layers, cross_rank) if cross_layers else None
        self.mlp = MLP(input_dim, hidden_units, dropout, batch_norm, activation)
        self.head = nn.Linear(self.mlp.output_dim, 1)
        self.pairwise = FieldWeightedInteraction(pair_fields) if pair_fields else None

    def _pair_logit(self, x: torch.Tensor) -> torch.Tensor | float:
        if self.pairwise is None:
            return 0.0
        return self.pairwise(x.view(x.shape[0], self.pairwise.pairs.num_fields, -1))

    def _crossed(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.cross is None else self.cross(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp(self._crossed(x))).squeeze(-1) + self._pair_logit(x)

    def forward_hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(logits (B,), hidden layers)`` in one pass."""
        hidden = self.mlp.forward_hidden(self._crossed(x))
        return self.head(hidden[-1]).squeeze(-1) + self._pair_logit(x), hidden


class TowerStack(nn.Module):
    """``T`` towers of the same shape, independently initialised, over the same input."""

    def __init__(
        self,
        num_towers: int,
        input_dim: int,
        hidden_units: Sequence[int],
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        cross_layers: int | Sequence[int] = 0,
        cross_rank: int | None | Sequence[int | None] = 16,
        pairwise: bool | Sequence[bool] = False,
        num_fields: int | None = None,
    ) -> None:
        super().__init__()
        if problem := tower_count_problem(num_towers):
            raise ValueError(problem)
        options = list(
            zip(
                per_tower(cross_layers, num_towers, "cross_layers"),
                per_tower(cross_rank, num_towers, "cross_rank"),
                per_tower(pairwise, num_towers, "pairwise"),
                strict=True,
            )
        )
        if any(with_pairs for *_, with_pairs in options) and num_fields is None:
            raise ValueError("pairwise towers need num_fields (the fields that K concatenates)")
        self.towers = nn.ModuleList(
            Tower(
                input_dim,
                hidden_units,
                dropout,
                batch_norm,
                activation,
                layers,
                rank,
                num_fields if with_pairs else None,
            )
            for layers, rank, with_pairs in options
        )

    @property
    def num_towers(self) -> int:
        return len(self.towers)

    def forward(self, x: torch.Tensor) -> TowerPass:
        # T <= 8 small MLPs: a Python loop over towers costs far less than their matmuls
        outs = [tower.forward_hidden(x) for tower in self.towers]
        return torch.stack([o[0] for o in outs]), [o[1] for o in outs]
