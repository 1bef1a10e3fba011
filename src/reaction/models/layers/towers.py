"""DTF's towers: ``T`` lightweight MLPs with their own heads over one shared input, and the
rules for how many there may be and which one is served (``FusionConfig`` checks them).

A tower may start with a few low-rank cross layers (``cross_layers``, DCN-V2's eq. 2): an MLP
learns multiplicative field interactions only slowly, and ``r``-rank crosses add them for
``2 K r + K`` parameters per layer -- a small share of a tower over ``K`` inputs. Towers may
differ (``cross_layers`` and ``cross_rank`` per tower, e.g. ``[1, 3]`` and ``[8, null]``): a
richer peer trained beside a small served tower passes on what it learns through the fusion
terms, while every tower keeps the same hidden widths that DTF's feature-level terms compare.

A tower may also see field-pair products (``products``): an MLP has to learn to multiply two
fields' embeddings, while an affinity such as user x item *is* an inner product. ``"fwfm"`` adds
FwFM's ``sum_{i<j} r_ij <v_i, v_j>`` to the logit (``F (F - 1) / 2`` scalars); ``"inner"`` feeds
the ``P`` inner products to the MLP as IPNN does (``P x H_1`` weights), which lets the MLP combine
them; ``"inner+fwfm"`` does both. The logit term matters where the label's log-odds *is* a sum of
pair affinities (sampled-negative recommender data): the MLP then only has to learn the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.models.layers.factorization import FieldWeightedInteraction, InnerProduct
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
    value: int | str | None | Sequence[int | str | None], num_towers: int, name: str
) -> list[int | str | None]:
    """One value for every tower, or a list: tower ``k`` takes entry ``k`` and towers past its
    end its last entry, so ``[0, 3]`` means "the served tower 0 plain, every peer 3" at any
    tower count (entries past ``num_towers`` describe peers this run does not train)."""
    if value is None or isinstance(value, int | str):
        return [value] * num_towers
    values = list(value)
    if not values:
        raise ValueError(f"{name}=[] (allowed: a value or a non-empty list, one per tower)")
    return [values[min(k, len(values) - 1)] for k in range(num_towers)]


# ``(T, B)`` logits and, per tower, its hidden layers ``(B, H_l)``: what DTF fuses.
TowerPass = tuple[torch.Tensor, list[list[torch.Tensor]]]


PRODUCT_TERMS = ("fwfm", "inner")  # a tower's field-pair products; ``"inner+fwfm"`` takes both


def product_terms(products: str | None) -> set[str]:
    """The terms of a ``products`` value (``None``, ``"fwfm"``, ``"inner"``, ``"inner+fwfm"``)."""
    terms = set() if products is None else set(products.split("+"))
    if not terms <= set(PRODUCT_TERMS):
        allowed = ", ".join((*PRODUCT_TERMS, "inner+fwfm"))
        raise ValueError(f"products={products!r} (allowed: null, {allowed})")
    return terms


class Tower(nn.Module):
    """``(B, K) -> (B,)``: [low-rank crosses ->] an MLP and its own logit head; what a served
    REACTION model runs. The MLP's hidden layers are what DTF fuses.

    ``products`` reads ``K`` as ``num_fields`` equal-width field embeddings: ``"fwfm"`` adds FwFM's
    pairwise term to the logit, ``"inner"`` hands the MLP every pair's inner product next to the
    embeddings (IPNN's product layer; ``P`` more inputs to the first layer), ``"inner+fwfm"`` both.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int],
        dropout: float,
        batch_norm: bool,
        activation: str,
        cross_layers: int = 0,
        cross_rank: int | None = 16,
        products: str | None = None,
        num_fields: int | None = None,
    ) -> None:
        super().__init__()
        if not hidden_units:
            raise ValueError("a DTF tower needs at least one hidden layer to fuse")
        if cross_layers < 0:
            raise ValueError(f"cross_layers must be >= 0, got {cross_layers}")
        terms = product_terms(products)
        if terms and (num_fields is None or input_dim % num_fields):
            raise ValueError(f"products need K = {input_dim} split into equal field embeddings")
        self.num_fields = num_fields
        self.cross = CrossNetV2(input_dim, cross_layers, cross_rank) if cross_layers else None
        self.pair_logit = FieldWeightedInteraction(num_fields) if "fwfm" in terms else None
        self.inner = InnerProduct(num_fields) if "inner" in terms else None
        extra = self.inner.output_dim if self.inner is not None else 0
        self.mlp = MLP(input_dim + extra, hidden_units, dropout, batch_norm, activation)
        self.head = nn.Linear(self.mlp.output_dim, 1)

    def _fields(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], self.num_fields, -1)

    def _mlp_input(self, x: torch.Tensor) -> torch.Tensor:
        crossed = x if self.cross is None else self.cross(x)
        if self.inner is None:
            return crossed
        return torch.cat([crossed, self.inner(self._fields(x))], dim=1)

    def _logit(self, top: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        logit = self.head(top).squeeze(-1)
        return logit if self.pair_logit is None else logit + self.pair_logit(self._fields(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._logit(self.mlp(self._mlp_input(x)), x)

    def forward_hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(logits (B,), hidden layers)`` in one pass."""
        hidden = self.mlp.forward_hidden(self._mlp_input(x))
        return self._logit(hidden[-1], x), hidden


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
        products: str | None | Sequence[str | None] = None,
        num_fields: int | None = None,
    ) -> None:
        super().__init__()
        if problem := tower_count_problem(num_towers):
            raise ValueError(problem)
        options = zip(
            per_tower(cross_layers, num_towers, "cross_layers"),
            per_tower(cross_rank, num_towers, "cross_rank"),
            per_tower(products, num_towers, "products"),
            strict=True,
        )
        self.towers = nn.ModuleList(
            Tower(
                input_dim,
                hidden_units,
                dropout,
                batch_norm,
                activation,
                layers,
                rank,
                pair_products,
                num_fields,
            )
            for layers, rank, pair_products in options
        )

    @property
    def num_towers(self) -> int:
        return len(self.towers)

    def forward(self, x: torch.Tensor) -> TowerPass:
        # T <= 8 small MLPs: a Python loop over towers costs far less than their matmuls
        outs = [tower.forward_hidden(x) for tower in self.towers]
        return torch.stack([o[0] for o in outs]), [o[1] for o in outs]
