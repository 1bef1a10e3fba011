"""FinalMLP (Mao et al., AAAI 2023): two gated MLP streams fused by multi-head bilinear fusion."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reaction.data.schema import FeatureMap
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.gating import BilinearFusion, FeatureSelectionGate
from reaction.models.layers.mlp import MLP


class FinalMLP(CTRModel):
    """``(B, F) -> e (B, F*D) -> [gate_s(e) -> mlp_s]_{s=1,2} -> fusion (B,)``.

    The paper's point: two plain MLPs ("DualMLP") are already a strong two-stream model; giving
    each stream its own feature-selection gate (different views of the same input) and fusing
    them bilinearly (their interaction, not just a sum) makes it FinalMLP.

    ``fs1_context`` / ``fs2_context`` name the fields whose embeddings condition each stream's
    gate; empty means a learned vector (the paper's global gate). As in FuxiCTR, context fields
    get their *own* ``FieldEmbedding`` table (``gates[s].context``), so the gates never pull on
    the stream embeddings. ``use_fs=False`` drops the gates (the paper's DualMLP, here with
    bilinear fusion). The fusion's head count must divide both streams' output widths.

    Defaults are the architecture of BARS ``FinalMLP_criteo_x1`` (FuxiCTR 2.0.1, expid
    ``FinalMLP_criteo_x1_004_d5d36917``): mlp1 ``[400, 400, 400]``, mlp2 ``[1000]``, gate hidden
    ``[800]``, 200 heads. Its Criteo-specific tuning is left to experiment configs: batch norm,
    dropout 0.2/0.3, gate contexts ``I1..I13`` / ``C6`` and ``embedding_dim`` 10.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        embedding_dim: int = 16,
        mlp1_hidden_units: Sequence[int] = (400, 400, 400),
        mlp1_dropout: float = 0.0,
        mlp1_batch_norm: bool = False,
        mlp2_hidden_units: Sequence[int] = (1000,),
        mlp2_dropout: float = 0.0,
        mlp2_batch_norm: bool = False,
        activation: str = "relu",
        use_fs: bool = True,
        fs_hidden_units: Sequence[int] = (800,),
        fs1_context: Sequence[str] = (),
        fs2_context: Sequence[str] = (),
        num_heads: int = 200,
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if not use_fs and (fs1_context or fs2_context):
            raise ValueError(
                f"fs1_context={list(fs1_context)} / fs2_context={list(fs2_context)} "
                "need use_fs=True"
            )
        input_dim = feature_map.num_fields * embedding_dim
        self.embedding = FieldEmbedding(feature_map.vocab_sizes, embedding_dim, init_std=init_std)
        self.mlp1 = MLP(
            input_dim,
            mlp1_hidden_units,
            dropout=mlp1_dropout,
            batch_norm=mlp1_batch_norm,
            activation=activation,
        )
        self.mlp2 = MLP(
            input_dim,
            mlp2_hidden_units,
            dropout=mlp2_dropout,
            batch_norm=mlp2_batch_norm,
            activation=activation,
        )
        self.fusion = BilinearFusion(self.mlp1.output_dim, self.mlp2.output_dim, num_heads)
        self.gates: nn.ModuleList | None = None
        if use_fs:
            self.gates = nn.ModuleList(
                _ContextGate(feature_map, fields, name, embedding_dim, fs_hidden_units, init_std)
                for fields, name in ((fs1_context, "fs1_context"), (fs2_context, "fs2_context"))
            )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B,)`` logits."""
        e = self.embedding(features).flatten(start_dim=1)
        if self.gates is None:
            return self.fusion(self.mlp1(e), self.mlp2(e))
        gate1, gate2 = self.gates
        return self.fusion(self.mlp1(gate1(features, e)), self.mlp2(gate2(features, e)))


class _ContextGate(nn.Module):
    """One stream's gate with its context: ``(B, F)`` ids, ``(B, F*D)`` -> ``(B, F*D)``.

    Context fields (by name) are read from the ids and embedded by this gate's own table; with
    no context fields the gate uses its learned vector of width ``D`` (FuxiCTR's layout).
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        fields: Sequence[str],
        argument: str,
        embedding_dim: int,
        hidden_units: Sequence[int],
        init_std: float,
    ) -> None:
        super().__init__()
        names = feature_map.field_names
        unknown = [f for f in fields if f not in names]
        if unknown:
            raise ValueError(f"{argument} names fields not in the feature map: {unknown}")
        if len(set(fields)) != len(fields):
            raise ValueError(f"{argument} repeats fields: {list(fields)}")
        index = [names.index(f) for f in fields]
        self.register_buffer("fields", torch.tensor(index, dtype=torch.long), persistent=False)
        self.context: FieldEmbedding | None = None
        if index:
            vocab = [feature_map.vocab_sizes[i] for i in index]
            self.context = FieldEmbedding(vocab, embedding_dim, init_std=init_std)
        self.gate = FeatureSelectionGate(
            feature_map.num_fields * embedding_dim,
            embedding_dim * max(1, len(index)),
            hidden_units,
            learned_context=not index,
            init_std=init_std,
        )

    def forward(self, features: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` ids, ``(B, F*D)`` embeddings -> ``(B, F*D)`` gated embeddings."""
        if self.context is None:
            return self.gate(e)
        context = self.context(features.index_select(1, self.fields)).flatten(start_dim=1)
        return self.gate(e, context)
