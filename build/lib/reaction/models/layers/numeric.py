"""AutoDis numeric-field embeddings (Guo et al., KDD 2021, "An Embedding Learning Framework for
Numerical Features in CTR Prediction").

Bucketing a numeric field and giving each bucket its own row (what ``FieldEmbedding`` does with
our preprocessed ids) loses the order of the values: bucket 7 and bucket 8 are unrelated rows.
AutoDis keeps the magnitude: each field has ``H`` meta-embeddings, and a value is embedded as a
softmax-weighted average of them, the weights a learned soft discretisation of the scalar. Close
values get close embeddings, and all values of a field share ``H * D`` embedding parameters.

Our data pipeline only hands models ids, so the scalar is recovered from the feature map: the
preprocessing records each numeric field's bucket value for ids ``2..``
(``feature_map.extra["numeric"]["bucket_values"][field]``), and this layer keeps an id -> scalar
buffer (each field standardised over its bucket values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional

from reaction.data.schema import NUM_SPECIAL_IDS, FeatureMap
from reaction.models.layers.embedding import FieldEmbedding, eager_checks_enabled


def numeric_bucket_values(feature_map: FeatureMap, fields: Sequence[str]) -> list[list[float]]:
    """Each named field's bucket values (ids ``2..`` in order) from ``feature_map.extra``.

    Raises ``ValueError`` naming the field when the feature map has no values for it or their
    count does not match its vocabulary (``vocab_size - 2``).
    """
    numeric = feature_map.extra.get("numeric", {})
    recorded = numeric.get("bucket_values", {}) if isinstance(numeric, Mapping) else {}
    sizes = dict(zip(feature_map.field_names, feature_map.vocab_sizes, strict=True))
    values = []
    for field in fields:
        if field not in recorded:
            raise ValueError(
                f"numeric field {field!r} has no bucket values in feature_map.extra"
                "['numeric']['bucket_values']; re-run preprocessing to record them"
            )
        field_values = [float(v) for v in recorded[field]]
        expected = sizes[field] - NUM_SPECIAL_IDS
        if len(field_values) != expected:
            raise ValueError(
                f"numeric field {field!r}: {len(field_values)} bucket values for "
                f"{expected} value ids (vocab_size {sizes[field]} minus 2 special ids)"
            )
        values.append(field_values)
    return values


class AutoDisEmbedding(nn.Module):
    """``(B, Fn)`` ids of numeric fields -> ``(B, Fn, D)`` AutoDis embeddings.

    Per field ``j`` with scalar ``x`` (paper Sec. 3, "automatic discretization" and "aggregation"):

    - ``h = LeakyReLU(w_j x + b_j)``, ``w_j, b_j in R^H``;
    - ``x~ = W_j h + alpha h`` (``W_j in R^{H x H}``; ``alpha`` is the paper's control factor of
      the skip connection);
    - ``p = softmax(x~ / tau)`` over the ``H`` meta-embeddings (temperature ``tau``);
    - ``e = sum_h p_h ME_j[h]``, ``ME_j in R^{H x D}`` (weighted-average aggregation).

    All fields run at once as batched einsums over ``(Fn, H, ...)`` parameter stacks.

    Deviations: the paper's projection ``w_j x`` has no ``b_j``; we keep one so the soft buckets
    need not all meet at ``x = 0`` (the standardised field mean). ``tau`` is one fixed
    hyperparameter, not the paper's temperature-adaptive network.

    Missing and OOV: the buffer gives ids ``0`` (missing) and ``1`` (OOV) the scalar ``0`` so
    the gather is total, but a missing value is not "the mean": their AutoDis output is replaced
    by learned per-field rows (``special``, a ``FieldEmbedding`` with 2 rows per field), so
    missing, OOV and every value stay distinguishable.

    Parameters: ``H (w) + H (b) + H^2 (W) + H D (ME)`` per field (dense), plus ``2 D`` special
    rows per field (embedding, as ``count_parameters`` sees ``FieldEmbedding`` rows).
    """

    def __init__(
        self,
        bucket_values: Sequence[Sequence[float]],
        embedding_dim: int,
        num_meta_embeddings: int = 20,
        temperature: float = 1.0,
        skip_alpha: float = 0.1,
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        if not bucket_values:
            raise ValueError("AutoDisEmbedding needs at least one numeric field, got 0")
        empty = [j for j, values in enumerate(bucket_values) if not values]
        if empty:
            raise ValueError(f"numeric fields {empty} have no bucket values")
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        if num_meta_embeddings < 1:
            raise ValueError(f"num_meta_embeddings must be >= 1, got {num_meta_embeddings}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not math.isfinite(skip_alpha):
            raise ValueError(f"skip_alpha must be finite, got {skip_alpha}")
        if init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {init_std}")
        fields, h = len(bucket_values), int(num_meta_embeddings)
        self.vocab_sizes = tuple(len(values) + NUM_SPECIAL_IDS for values in bucket_values)
        self.temperature = float(temperature)
        self.skip_alpha = float(skip_alpha)
        # Init as nn.Linear(1, H) (U(-1, 1) for fan-in 1) and nn.Linear(H, H) would start.
        self.scale = nn.Parameter(torch.empty(fields, h).uniform_(-1.0, 1.0))
        self.shift = nn.Parameter(torch.empty(fields, h).uniform_(-1.0, 1.0))
        bound = 1.0 / math.sqrt(h)
        self.mixing = nn.Parameter(torch.empty(fields, h, h).uniform_(-bound, bound))
        self.meta_embeddings = nn.Parameter(torch.randn(fields, h, embedding_dim) * init_std)
        self.special = FieldEmbedding([NUM_SPECIAL_IDS] * fields, embedding_dim, init_std)
        scalars, starts = [], []
        for values in bucket_values:
            starts.append(sum(len(s) for s in scalars))
            scalars.append([0.0] * NUM_SPECIAL_IDS + _standardise(values))
        flat = torch.tensor([v for s in scalars for v in s], dtype=torch.float32)
        self.register_buffer("scalars", flat, persistent=False)
        self.register_buffer("offsets", torch.tensor(starts, dtype=torch.long), persistent=False)
        sizes = torch.tensor(self.vocab_sizes, dtype=torch.long)
        self.register_buffer("field_sizes", sizes, persistent=False)

    @property
    def num_fields(self) -> int:
        return len(self.vocab_sizes)

    def weights(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, Fn)`` ids -> ``(B, Fn, H)`` soft-discretisation weights (each row sums to 1)."""
        if eager_checks_enabled():
            self._check_ids(features)
        x = self.scalars[features + self.offsets]
        h = functional.leaky_relu(x.unsqueeze(-1) * self.scale + self.shift)
        logits = torch.einsum("bfh,fgh->bfg", h, self.mixing) + self.skip_alpha * h
        return torch.softmax(logits / self.temperature, dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, Fn)`` int64 ids -> ``(B, Fn, D)``."""
        values = torch.einsum("bfh,fhd->bfd", self.weights(features), self.meta_embeddings)
        special = self.special(features.clamp(max=NUM_SPECIAL_IDS - 1))
        return torch.where((features < NUM_SPECIAL_IDS).unsqueeze(-1), special, values)

    @torch.jit.unused
    def _check_ids(self, features: torch.Tensor) -> None:
        """Raise on ids outside their own field's range (the buffer is one concatenated row)."""
        if features.dim() != 2 or features.shape[1] != self.num_fields:
            raise ValueError(
                f"expected features of shape (B, {self.num_fields}), got {tuple(features.shape)}"
            )
        bad = (features < 0) | (features >= self.field_sizes)
        if bool(bad.any()):
            field = int(bad.any(dim=0).nonzero()[0, 0])
            raise ValueError(
                f"numeric field {field}: ids must lie in [0, {self.vocab_sizes[field]}), "
                f"got min {int(features[:, field].min())} max {int(features[:, field].max())}"
            )


def _standardise(values: Sequence[float]) -> list[float]:
    """``(v - mean) / std`` over one field's bucket values; a constant field maps to 0."""
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / std if std > 0 else 0.0 for v in values]
