"""Count tables of the preprocessed training split, the only input of ``reaction.info``.

Every information measure (``reaction.info.estimators``) is a function of counts, so the data is
read once into small tables and never one-hot encoded or loaded whole:

* :func:`count_fields` -- per field, counts of ``(id, joint label)`` over *every* training row,
  streamed one parquet row group at a time (``np.bincount`` into a dense ``vocab x 2**L`` array;
  a field whose vocabulary makes that too large is counted by a streaming polars group-by
  instead). Memory: the tables plus one row group, whatever the row count.
* :func:`sample_rows` -- a seeded uniform sample of rows (without replacement, drawn row group by
  row group) for the pairwise tables: ``F (F - 1) / 2`` pair tables over the full data would cost
  ``F^2`` passes, while pair measures (redundancy, synergy) are ranked, not tested, and a
  ~200k-row sample ranks them well.
* :func:`pair_counts` -- the sparse ``(x, z, joint label)`` table of one field pair on a sample.

Labels are 0/1 (``Float32`` in the cache). Several labels ``Y_1..Y_L`` form the *joint* label
code ``sum_l 2**l y_l`` (column ``c`` of a table); :func:`label_table` marginalises it to any
subset of labels, e.g. ``(V, 2)`` for ``I(X;Y_l)`` or ``(V, 2, 2)`` for ``I(X;Y_l|Y_l')``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
from numpy.typing import NDArray

log = logging.getLogger(__name__)

DENSE_MAX_CELLS = 2**24  # per field: above this many (id, label) cells, count with polars
_PAIR_DENSE_MAX_CELLS = 2**20


def joint_label_codes(columns: Sequence[NDArray], names: Sequence[str]) -> NDArray:
    """``sum_l 2**l y_l`` per row (int64); raises on a label value other than 0 or 1."""
    code = np.zeros(len(columns[0]) if columns else 0, dtype=np.int64)
    for bit, (name, column) in enumerate(zip(names, columns, strict=True)):
        values = np.asarray(column)
        bad = (values != 0) & (values != 1)
        if bad.any():
            raise ValueError(f"label {name!r} must be 0/1, found {np.unique(values[bad])[:5]}")
        code += values.astype(np.int64) << bit
    return code


def label_table(counts: NDArray, labels: Sequence[str], keep: Sequence[str]) -> NDArray:
    """``(n, 2**L)`` joint-label counts -> ``(n, 2, ..., 2)`` marginal, axes in ``keep`` order."""
    missing = [name for name in keep if name not in labels]
    if missing or len(set(keep)) != len(keep) or not keep:
        raise ValueError(f"labels to keep {list(keep)} must be distinct names from {list(labels)}")
    num = len(labels)
    cube = counts.reshape(-1, *([2] * num))  # axis 1 + (L - 1 - l) holds label l (bit l)
    axis = {name: 1 + num - 1 - i for i, name in enumerate(labels)}
    drop = tuple(axis[name] for name in labels if name not in keep)
    marginal = cube.sum(axis=drop) if drop else cube
    left = sorted(axis[name] for name in keep)  # remaining axes, in cube order
    return np.moveaxis(marginal, [1 + left.index(axis[n]) for n in keep], range(1, len(keep) + 1))


@dataclass(frozen=True)
class FieldCounts:
    """``counts[v, c]``: training rows with id ``ids[v]`` and joint label code ``c``."""

    field: str
    labels: tuple[str, ...]
    ids: NDArray  # (V,) ids seen in the split, ascending
    counts: NDArray  # (V, 2**L) int64

    @property
    def num_rows(self) -> int:
        return int(self.counts.sum())

    def table(self, *labels: str) -> NDArray:
        """``(V, 2, ...)`` counts of the given labels (all labels, jointly, when none given)."""
        return label_table(self.counts, self.labels, labels or self.labels)


@dataclass(frozen=True)
class CountTables:
    """Per-field joint-label counts of one split (``count_fields``)."""

    labels: tuple[str, ...]
    num_rows: int
    fields: dict[str, FieldCounts]

    def __getitem__(self, name: str) -> FieldCounts:
        if name not in self.fields:
            raise ValueError(f"unknown field {name!r}; counted: {list(self.fields)}")
        return self.fields[name]

    def label_counts(self) -> NDArray:
        """``(2**L,)`` rows per joint label code."""
        return next(iter(self.fields.values())).counts.sum(0)


def _check_columns(path: Path, names: Sequence[str]) -> pq.ParquetFile:
    parquet = pq.ParquetFile(path)
    present = set(parquet.schema_arrow.names)
    unknown = [n for n in names if n not in present]
    if unknown:
        raise ValueError(f"{path}: unknown columns {unknown}; present: {sorted(present)}")
    if parquet.metadata.num_rows == 0:
        raise ValueError(f"{path}: no rows to count")
    return parquet


def _ids(column, name: str, size: int) -> NDArray:
    ids = column.to_numpy().astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        raise ValueError(f"field {name!r}: ids in [{ids.min()}, {ids.max()}] outside [0, {size})")
    return ids


def _vocab_sizes(parquet: pq.ParquetFile, fields: Sequence[str]) -> dict[str, int]:
    """Max id + 1 per field from the row-group statistics (what the writer recorded)."""
    meta, names = parquet.metadata, parquet.schema_arrow.names
    sizes = dict.fromkeys(fields, 1)
    for g in range(meta.num_row_groups):
        for f in fields:
            stats = meta.row_group(g).column(names.index(f)).statistics
            if stats is None or not stats.has_min_max:
                raise ValueError(f"field {f!r}: no parquet statistics; pass vocab_sizes")
            sizes[f] = max(sizes[f], int(stats.max) + 1)
    return sizes


def _polars_counts(path: Path, fields: Sequence[str], labels: Sequence[str]) -> list[tuple]:
    """``(ids, (V, 2**L) counts)`` per field by a streaming polars group-by (huge vocabularies)."""
    code = pl.sum_horizontal([pl.col(n).cast(pl.Int64) * 2**i for i, n in enumerate(labels)])
    scan = pl.scan_parquet(path).select(*fields, code.alias("_y"))
    queries = [scan.group_by(f, "_y").agg(pl.len().alias("n")).sort(f, "_y") for f in fields]
    out = []
    for f, frame in zip(fields, pl.collect_all(queries, engine="streaming"), strict=True):
        ids, inverse = np.unique(frame[f].to_numpy(), return_inverse=True)
        counts = np.zeros((ids.size, 2 ** len(labels)), dtype=np.int64)
        counts[inverse, frame["_y"].to_numpy()] = frame["n"].to_numpy()
        out.append((ids, counts))
    return out


def count_fields(
    path: str | Path,
    fields: Sequence[str],
    labels: Sequence[str],
    vocab_sizes: Mapping[str, int] | None = None,
    dense_max_cells: int = DENSE_MAX_CELLS,
) -> CountTables:
    """Per-field ``(id, joint label)`` counts over every row of a preprocessed split file.

    ``vocab_sizes`` (the feature map's) bounds the ids; without it the parquet statistics do.
    """
    path, fields, labels = Path(path), tuple(fields), tuple(labels)
    parquet = _check_columns(path, (*fields, *labels))
    sizes = dict(vocab_sizes) if vocab_sizes is not None else _vocab_sizes(parquet, fields)
    width = 2 ** len(labels)
    dense = [f for f in fields if sizes[f] * width <= dense_max_cells]
    acc = {f: np.zeros(sizes[f] * width, dtype=np.int64) for f in dense}
    for g in range(parquet.metadata.num_row_groups):
        group = parquet.read_row_group(g, columns=[*dense, *labels])
        y = joint_label_codes([group.column(n).to_numpy() for n in labels], labels)
        for f in dense:
            acc[f] += np.bincount(_ids(group.column(f), f, sizes[f]) * width + y, None, acc[f].size)
    tables = {}
    for f in dense:
        counts = acc.pop(f).reshape(-1, width)
        seen = np.flatnonzero(counts.sum(1))
        tables[f] = FieldCounts(f, labels, seen, counts[seen])
    sparse = [f for f in fields if f not in tables]
    for f, (ids, counts) in zip(sparse, _polars_counts(path, sparse, labels), strict=True):
        tables[f] = FieldCounts(f, labels, ids, counts)
    log.info("counted %d fields (%d by group-by) over %s", len(fields), len(sparse), path)
    return CountTables(labels, parquet.metadata.num_rows, {f: tables[f] for f in fields})


@dataclass
class RowSample:
    """A uniform sample of rows: ids ``(n, F)`` and joint label codes ``(n,)``."""

    fields: tuple[str, ...]
    labels: tuple[str, ...]
    ids: NDArray
    label_codes: NDArray
    num_rows: int  # rows of the split the sample was drawn from
    seed: int
    _codes: dict[str, tuple[NDArray, NDArray]] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return int(self.label_codes.size)

    @property
    def sampled(self) -> bool:
        """False when the sample is the whole split."""
        return self.size < self.num_rows

    def label(self, name: str) -> NDArray:
        """One label's 0/1 values per sampled row (bit ``l`` of the joint code)."""
        if name not in self.labels:
            raise ValueError(f"unknown label {name!r}; sampled: {list(self.labels)}")
        return (self.label_codes >> self.labels.index(name)) & 1

    def codes(self, name: str) -> tuple[NDArray, NDArray]:
        """``(ids, codes)``: the field's distinct ids and each row's index into them (cached)."""
        if name not in self.fields:
            raise ValueError(f"unknown field {name!r}; sampled: {list(self.fields)}")
        if name not in self._codes:
            ids, codes = np.unique(self.ids[:, self.fields.index(name)], return_inverse=True)
            self._codes[name] = (ids, codes.astype(np.int64))
        return self._codes[name]


def sample_rows(
    path: str | Path, fields: Sequence[str], labels: Sequence[str], max_rows: int, seed: int = 0
) -> RowSample:
    """``min(max_rows, N)`` rows drawn uniformly without replacement, one row group at a time."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    path, fields, labels = Path(path), tuple(fields), tuple(labels)
    parquet = _check_columns(path, (*fields, *labels))
    meta = parquet.metadata
    sizes = np.array([meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
    rng = np.random.default_rng(seed)
    take = sizes if max_rows >= meta.num_rows else rng.multivariate_hypergeometric(sizes, max_rows)
    ids, codes = [], []
    for g in np.flatnonzero(take):
        rows = np.sort(rng.choice(sizes[g], take[g], replace=False))
        group = parquet.read_row_group(int(g), columns=[*fields, *labels]).take(rows)
        ids.append(np.stack([group.column(f).to_numpy() for f in fields], 1).astype(np.int32))
        codes.append(joint_label_codes([group.column(n).to_numpy() for n in labels], labels))
    return RowSample(
        fields, labels, np.concatenate(ids), np.concatenate(codes), meta.num_rows, seed
    )


@dataclass(frozen=True)
class PairCounts:
    """Sparse ``(x, z, joint label)`` table of two fields: only the non-empty ``(x, z)`` cells.

    Cell ``k`` is ``(x_ids[x_index[k]], z_ids[z_index[k]])`` with label counts ``counts[k]``.
    """

    fields: tuple[str, str]
    labels: tuple[str, ...]
    x_index: NDArray  # (n,) int64
    z_index: NDArray  # (n,) int64
    counts: NDArray  # (n, 2**L) int64
    x_ids: NDArray
    z_ids: NDArray

    def table(self, *labels: str) -> NDArray:
        """``(n, 2, ...)`` cell counts of the given labels (all labels jointly when none)."""
        return label_table(self.counts, self.labels, labels or self.labels)


def pair_cells(sample: RowSample, a: str, b: str) -> tuple[NDArray, NDArray]:
    """``(row_cell, cell_keys)``: each sampled row's index among the non-empty ``(a, b)`` cells,
    and each cell's key ``x * |Z| + z``. Label-free, so tables of several label columns over the
    same pair (AFE's shuffle correction) share it."""
    if a == b:
        raise ValueError(f"a pair needs two different fields, got {a!r} twice")
    (x_ids, x), (z_ids, z) = sample.codes(a), sample.codes(b)
    key = x * z_ids.size + z
    if x_ids.size * z_ids.size <= _PAIR_DENSE_MAX_CELLS:  # compact by bincount, no sort
        present = np.bincount(key, minlength=x_ids.size * z_ids.size) > 0
        return (np.cumsum(present) - 1)[key], np.flatnonzero(present)
    cell_keys, row_cell = np.unique(key, return_inverse=True)
    return row_cell.astype(np.int64), cell_keys


def cell_label_counts(
    row_cell: NDArray, num_cells: int, label_codes: NDArray, width: int
) -> NDArray:
    """``(cells, width)`` joint-label counts per cell."""
    return np.bincount(row_cell * width + label_codes, minlength=num_cells * width).reshape(
        -1, width
    )


def pair_counts(sample: RowSample, a: str, b: str) -> PairCounts:
    """The sparse table of fields ``a`` and ``b`` on the sample."""
    row_cell, cell_keys = pair_cells(sample, a, b)
    width = 2 ** len(sample.labels)
    counts = cell_label_counts(row_cell, cell_keys.size, sample.label_codes, width)
    x_ids, z_ids = sample.codes(a)[0], sample.codes(b)[0]
    return PairCounts(
        (a, b), sample.labels, cell_keys // z_ids.size, cell_keys % z_ids.size, counts, x_ids, z_ids
    )
