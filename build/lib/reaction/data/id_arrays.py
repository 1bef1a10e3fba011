"""Fixed-width id arrays beside a preprocessed cache: what a loader that feeds a GPU memory-maps.

Reading the training split back from zstd parquet costs more than the rest of a batch: at 1M
Criteo rows decoding the row groups and copying 39 columns into a row-major array took three
quarters of the loader's time (docs/DATASETS.md). Here every split is also stored once as
``<split>.features.npy`` ``(N, F)`` int32 ids (field order of the feature map) and
``<split>.labels.npy`` ``(N, L)`` float32, so a batch is a slice of a memory map. The arrays live
in their own sealed folder ``<cache>-ids/`` (``reaction.data.cache`` manifest, keyed by the
cache's fingerprint), derived from the parquet files; the cache itself is unchanged, so its
fingerprint and bytes are those of a build without arrays.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from reaction.data.cache import publish, remove_dir, validate
from reaction.data.preprocess import SPLITS, PreprocessedData

log = logging.getLogger(__name__)

ARRAYS_VERSION = "id-arrays-v1"
_REQUIRED = tuple(f"{s}.{kind}.npy" for s in SPLITS for kind in ("features", "labels"))


def arrays_root(data: PreprocessedData) -> Path:
    return data.root.with_name(f"{data.root.name}-ids")


def split_arrays(data: PreprocessedData, split: str) -> tuple[Path, Path]:
    """``(features.npy, labels.npy)`` of one split (built by :func:`ensure_id_arrays`)."""
    return _paths(arrays_root(data), split)


def ensure_id_arrays(data: PreprocessedData) -> Path:
    """Build the arrays of ``data`` once (rank 0, ``prepare_data``); later calls only validate."""
    root = arrays_root(data)
    fp = f"{data.feature_map.extra['fingerprint']}/{ARRAYS_VERSION}"
    if root.exists():
        problem = validate(root, fp, False, _REQUIRED)
        if problem is None:
            return root
        log.warning("id arrays %s are invalid (%s); rebuilding", root, problem)
        remove_dir(root)
    log.info("writing id arrays %s", root)
    publish(root, fp, partial(_write_all, data), _REQUIRED, verify_hash=False)
    return root


def open_arrays(features: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read-only memory maps: the page cache, not this process, holds the data."""
    return np.load(features, mmap_mode="r"), np.load(labels, mmap_mode="r")


def _write_all(data: PreprocessedData, out: Path) -> None:
    fm = data.feature_map
    for split in SPLITS:
        path = data.split_path(split)
        write_split_arrays(path, fm.field_names, list(fm.labels), *_paths(out, split))


def _paths(root: Path, split: str) -> tuple[Path, Path]:
    return root / f"{split}.features.npy", root / f"{split}.labels.npy"


def write_split_arrays(
    path: Path, fields: list[str], labels: list[str], features_out: Path, labels_out: Path
) -> None:
    """One parquet split into the two arrays, a row group at a time (bounded memory)."""
    parquet = pq.ParquetFile(path, pre_buffer=False)
    rows = parquet.metadata.num_rows
    ids = np.lib.format.open_memmap(features_out, "w+", np.int32, (rows, len(fields)))
    ys = np.lib.format.open_memmap(labels_out, "w+", np.float32, (rows, len(labels)))
    start = 0
    for group in range(parquet.num_row_groups):
        table = parquet.read_row_group(group, columns=fields + labels)
        stop = start + table.num_rows
        for j, name in enumerate(fields):
            ids[start:stop, j] = table.column(name).to_numpy()
        for j, name in enumerate(labels):
            ys[start:stop, j] = table.column(name).to_numpy()
        start = stop
    ids.flush()
    ys.flush()
