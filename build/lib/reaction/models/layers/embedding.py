"""Per-field embeddings as one concatenated table: the sparse part of every model.

All fields share one ``nn.Embedding`` whose rows are laid out field after field; field ``i``'s id
``j`` reads row ``offsets[i] + j``. One table means one gather kernel per batch instead of ``F``,
and one place that knows how ids become vectors. This module is also the seam where sharded
tables (e.g. a TorchRec ``EmbeddingCollection``) could be swapped in for data that does not fit one
device: models only see ``(B, F) -> (B, F, D)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def eager_checks_enabled() -> bool:
    """Whether data-dependent input checks may run: not while scripting, tracing or exporting
    (a check on values cannot be captured in a graph, and an exported graph was validated on
    real data when it was built)."""
    return not (torch.jit.is_scripting() or torch.jit.is_tracing() or torch.compiler.is_compiling())


class FieldEmbedding(nn.Module):
    """``(B, F)`` per-field ids -> ``(B, F, D)`` embeddings from one concatenated table.

    Ids follow ``reaction.data.schema``: ``0`` = missing, ``1`` = OOV, ``2..`` = values; all are
    ordinary learned rows (a missing value is informative in CTR data, so no ``padding_idx``).
    Weights start at ``N(0, init_std^2)``, the small-normal init of FuxiCTR/BARS.

    The offsets and per-field sizes are *non-persistent* buffers: they are a pure function of the
    constructor arguments, so the state dict holds only the learned table (what a sharded
    replacement would hold too); they still follow ``.to(device)``. A wrong vocabulary at load time
    is caught by the table's shape or, per field, by the id check in ``forward``.
    """

    def __init__(
        self, vocab_sizes: Sequence[int], embedding_dim: int, init_std: float = 1e-4
    ) -> None:
        super().__init__()
        sizes = [int(v) for v in vocab_sizes]
        if not sizes:
            raise ValueError("FieldEmbedding needs at least one field, got 0 vocab sizes")
        if min(sizes) < 1:
            raise ValueError(f"every vocab size must be >= 1, got {sizes}")
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        if init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {init_std}")
        self.vocab_sizes = tuple(sizes)
        self.embedding_dim = int(embedding_dim)
        self.table = nn.Embedding(sum(sizes), self.embedding_dim)
        nn.init.normal_(self.table.weight, mean=0.0, std=init_std)
        starts = [0]
        for size in sizes[:-1]:
            starts.append(starts[-1] + size)
        self.register_buffer("offsets", torch.tensor(starts, dtype=torch.long), persistent=False)
        self.register_buffer("field_sizes", torch.tensor(sizes, dtype=torch.long), persistent=False)

    @property
    def num_fields(self) -> int:
        return len(self.vocab_sizes)

    @property
    def flat_dim(self) -> int:
        """Width of the embeddings concatenated, ``F * D``."""
        return self.num_fields * self.embedding_dim

    def forward_with_losses(
        self, features: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``forward`` and the training-loss terms of this embedding (none): the interface a
        flat-input model shares with AFE's embedding, whose bottleneck has a KL term."""
        return self(features), {}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B, F, D)``."""
        # Eager mode only: a data-dependent check cannot be traced or exported, and is not needed
        # once a graph has been validated on real data.
        if eager_checks_enabled():
            self._check_ids(features)
        return self.table(features + self.offsets)

    @torch.jit.unused
    def _check_ids(self, features: torch.Tensor) -> None:
        """Raise on ids outside their own field's range.

        ``nn.Embedding`` only catches ids beyond the whole table; an id too large for field ``i``
        would silently read field ``i + 1``'s rows, so the bound is checked per field.
        """
        if features.dim() != 2 or features.shape[1] != self.num_fields:
            raise ValueError(
                f"expected features of shape (B, {self.num_fields}), got {tuple(features.shape)}"
            )
        bad = (features < 0) | (features >= self.field_sizes)
        if bool(bad.any()):
            field = int(bad.any(dim=0).nonzero()[0, 0])
            column = features[:, field]
            raise ValueError(
                f"field {field}: ids must lie in [0, {self.vocab_sizes[field]}), "
                f"got min {int(column.min())} max {int(column.max())}"
            )


def flat_input_embedding(
    vocab_sizes: Sequence[int], embedding_dim: int, init_std: float, embedding: nn.Module | None
) -> nn.Module:
    """The embedding of a model that reads its fields concatenated (``flat_dim`` wide): the one
    given (AFE's mixed sizes / subspace projection), else a plain ``FieldEmbedding``."""
    if embedding is not None:
        return embedding
    return FieldEmbedding(vocab_sizes, embedding_dim, init_std=init_std)


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Trainable parameters as ``(embedding, dense)``.

    Embedding = owned by any ``FieldEmbedding`` (sparse rows, usually a different optimizer
    group/regulariser); dense = everything else. Feeds optimizer groups and the
    ``params/embedding`` / ``params/dense`` counts. Shared parameters appear once.
    """
    embedding_ids = {
        id(p) for m in model.modules() if isinstance(m, FieldEmbedding) for p in m.parameters()
    }
    embedding: list[nn.Parameter] = []
    dense: list[nn.Parameter] = []
    for p in model.parameters():
        if p.requires_grad:
            (embedding if id(p) in embedding_ids else dense).append(p)
    return embedding, dense


class GroupedFieldEmbedding(nn.Module):
    """``(B, F)`` ids -> ``(B, sum_f d_f)``: fields with their own embedding sizes, concatenated.

    Fields of equal size share one ``FieldEmbedding`` (one fused gather per distinct size, not a
    Python loop over fields), so a few power-of-two sizes cost a few kernels per batch. Output
    columns are grouped by size (groups in ascending size, fields in input order within a
    group): an order fixed by the sizes, which is all a dense layer behind it needs.
    """

    def __init__(
        self, vocab_sizes: Sequence[int], dims: Sequence[int], init_std: float = 1e-4
    ) -> None:
        super().__init__()
        if len(vocab_sizes) != len(dims):
            raise ValueError(f"{len(vocab_sizes)} vocab sizes but {len(dims)} embedding sizes")
        self.dims = tuple(int(d) for d in dims)
        self.groups = nn.ModuleList()
        for size in sorted(set(self.dims)):
            columns = [i for i, d in enumerate(self.dims) if d == size]
            table = FieldEmbedding([vocab_sizes[i] for i in columns], size, init_std=init_std)
            table.register_buffer("columns", torch.tensor(columns), persistent=False)
            self.groups.append(table)

    @property
    def num_fields(self) -> int:
        return len(self.dims)

    @property
    def flat_dim(self) -> int:
        return sum(self.dims)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` int64 ids -> ``(B, sum_f d_f)``."""
        parts = [g(features.index_select(1, g.columns)).flatten(1) for g in self.groups]
        return torch.cat(parts, dim=1)
