"""REACTION: (AFE-compact) shared embeddings -> DTF towers; one tower is served.

During training every tower is computed (``forward_train``) and ``CTRModule`` adds the fusion
objective; ``forward`` runs only the served tower -- the one with the best validation AUC
(``serve="best"``, tracked in the ``served_tower`` buffer, so each checkpoint knows its own) or a
fixed index. ``served()`` extracts it as a plain ``embedding + tower`` module for costs and export.
With ``parametrization="reparam"`` (``fusion=reparam``) the towers are ``ReparamTowers`` and the
shared tower they converge onto is evaluated and served.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel, ModelOutput
from reaction.models.layers.embedding import FieldEmbedding, flat_input_embedding
from reaction.models.layers.reparam_towers import ReparamTowers
from reaction.models.layers.towers import Tower, TowerStack, per_tower, serve_problem


class ServedTower(CTRModel):
    """``(B, F) -> (B,)``: the shared embedding and one tower, nothing else."""

    def __init__(self, embedding: nn.Module, tower: Tower) -> None:
        super().__init__()
        self.embedding = embedding
        self.tower = tower

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.tower(self.embedding(features).flatten(start_dim=1))


class REACTION(CTRModel):
    """``(B, F) -> embedding -> flatten (B, K) -> T towers -> (T, B)`` logits; serves one.

    ``cross_layers`` DCN-V2 cross layers of rank ``cross_rank`` (None: full rank) open every
    tower, or each tower its own (lists); 0 layers: the paper's plain MLP towers. ``products``
    (``"fwfm"``: FwFM's pair term on the logit, ``"inner"``: IPNN's inner products into the MLP,
    ``"inner+fwfm"``: both) give every tower, or each tower its own, the field pairs' inner
    products.

    ``num_towers``, ``serve`` and ``parametrization`` come from the fusion config
    (``fusion.towers``, ``fusion.serve``, ``fusion.parametrization``), which checks them.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        hidden_units: Sequence[int] = (256, 128),
        num_towers: int = 2,
        serve: str | int = "best",
        dropout: float = 0.0,
        batch_norm: bool = False,
        activation: str = "relu",
        init_std: float = 1e-4,
        parametrization: str = "independent",
        embedding: nn.Module | None = None,
        cross_layers: int | Sequence[int] = 0,
        cross_rank: int | None | Sequence[int | None] = 16,
        products: str | None | Sequence[str | None] = None,
    ) -> None:
        super().__init__()
        if problem := serve_problem(serve, num_towers):
            raise ValueError(problem)
        self.embedding = flat_input_embedding(
            feature_map.vocab_sizes, embedding_dim, init_std, embedding
        )
        with_products = any(per_tower(products, num_towers, "products"))
        if with_products and not isinstance(self.embedding, FieldEmbedding):
            raise ValueError(
                "towers with products need one embedding size for every field: set "
                "afe.dim_policy=uniform afe.subspace_dim=null"
            )
        if parametrization == "reparam":
            if dropout or batch_norm or cross_layers or with_products:
                raise ValueError(
                    "fusion=reparam towers take no dropout, batch_norm, crosses or products"
                )
            self.towers = ReparamTowers(
                num_towers, self.embedding.flat_dim, hidden_units, activation
            )
        elif parametrization == "independent":
            self.towers = TowerStack(
                num_towers,
                self.embedding.flat_dim,
                hidden_units,
                dropout,
                batch_norm,
                activation,
                cross_layers,
                cross_rank,
                products,
                feature_map.num_fields,
            )
        else:
            raise ValueError(
                f"fusion.parametrization={parametrization!r} (allowed: independent, reparam)"
            )
        self.serve_best = serve == "best"
        self.register_buffer("served_tower", torch.tensor(0 if self.serve_best else serve))

    @property
    def num_towers(self) -> int:
        return self.towers.num_towers

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        # checkpoints written before the model contract named this buffer ``served_index``
        if (old := prefix + "served_index") in state_dict:
            state_dict[prefix + "served_tower"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args)

    @property
    def merges_towers(self) -> bool:
        return isinstance(self.towers, ReparamTowers)

    @property
    def served_index(self) -> int:
        return int(self.served_tower)

    def forward_train(self, features: torch.Tensor, with_hidden: bool = False) -> ModelOutput:
        x, losses = self.embedding.forward_with_losses(features)
        x = x.flatten(start_dim=1)
        logits, hidden = self.towers(x)
        merged = self.towers.forward_shared(x) if self.merges_towers and not self.training else None
        return ModelOutput(
            logits, hidden if with_hidden else None, aux_losses=losses, merged=merged
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """The served tower's ``(B,)`` logits (only that tower is computed)."""
        x = self.embedding(features).flatten(start_dim=1)
        if self.merges_towers:
            return self.towers.forward_shared(x)
        return self.towers.towers[self.served_index](x)

    def choose_served(self, tower_auc: Sequence[float]) -> None:
        """With ``serve="best"``: serve the tower with the best validation AUC (reparam towers
        serve their shared tower)."""
        if self.serve_best and not self.merges_towers:
            self.served_tower.fill_(int(torch.tensor(tower_auc).argmax()))

    def served(self) -> ServedTower:
        if self.merges_towers:
            return ServedTower(self.embedding, self.towers.shared_tower())
        return ServedTower(self.embedding, self.towers.towers[self.served_index])
