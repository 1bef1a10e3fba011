"""Raw split files -> per-field id parquet shards + feature map, cached by content fingerprint.

Everything is fitted on the training split only (vocabularies, quantile edges), so validation and
test rows are encoded exactly as unseen serving traffic would be. No per-row Python, and memory
bounded whatever the row count: vocabularies by streaming group-by counts, one field at a time
(``reaction.data.vocab``); ids by vocabulary lookups (``encoding.encode_field``) over batches of
``ENCODE_BATCH_ROWS`` rows written row group by row group (``reaction.data.batched``). With
``jobs`` (a pool of processes or SLURM jobs) both run per part of the rows and are merged into
the same bytes (``reaction.data.encode_parts``).

Cache layout, ``cache_root/<dataset>-<fingerprint[:16]>/``::

    train.parquet val.parquet test.parquet   one Int32 column per field, one Float32 per label
    feature_map.json                         FeatureMap; extra: rows, fingerprint, numeric buckets
    vocab/<field>.parquet                    value -> id (+ training count), for serving
    manifest.json                            written last: fingerprint, size/rows/sha256 per file

A cache is built in a temp dir and renamed into place, so a killed build never leaves a directory
that looks finished; one failing its manifest is deleted and rebuilt (``reaction.data.cache``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import polars as pl
import pyarrow.parquet as pq

from reaction.data.batched import transform_parquet
from reaction.data.cache import (
    CODE_VERSION,
    cache_name,
    clean_stale_temps,
    fingerprint,
    publish,
    remove_dir,
    validate,
)
from reaction.data.encode_parts import encode_in_parts
from reaction.data.encoding import (
    NumericPolicy,
    batch_encoder,
    empty_input,
    quantile_edges,
    scan,
    value_exprs,
)
from reaction.data.jobs import Jobs
from reaction.data.schema import NUM_SPECIAL_IDS, FeatureMap, FieldSpec
from reaction.data.vocab import fit_vocabs

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
FEATURE_MAP = "feature_map.json"
VOCAB_DIR = "vocab"
_REQUIRED_FILES = (FEATURE_MAP, *(f"{split}.parquet" for split in SPLITS))
# rows encoded at once: bounds the encoder's memory; large enough to amortise vocabulary lookups
ENCODE_BATCH_ROWS = 1 << 18


@dataclass(frozen=True)
class RawSplits:
    """Where a raw dataset lives and which columns play which role (fields keep declared order)."""

    train: tuple[Path, ...]
    val: tuple[Path, ...]
    test: tuple[Path, ...]
    labels: tuple[str, ...]
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    dataset: str

    def __post_init__(self) -> None:
        for split in SPLITS:  # accept str / lists from configs, store Paths in a tuple
            object.__setattr__(self, split, tuple(Path(p) for p in getattr(self, split)))
        for name in ("labels", "categorical", "numeric"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.train:
            raise ValueError(f"dataset {self.dataset!r}: no training files")
        if not self.labels or not self.categorical + self.numeric:
            raise ValueError(f"dataset {self.dataset!r}: need >= 1 label and >= 1 field")
        columns = self.columns
        if len(set(columns)) != len(columns):
            raise ValueError(f"dataset {self.dataset!r}: a column has two roles: {columns}")

    @property
    def fields(self) -> tuple[str, ...]:
        """Feature order of the output: numeric fields first (Criteo's I*, C* order)."""
        return self.numeric + self.categorical

    @property
    def columns(self) -> tuple[str, ...]:
        return self.labels + self.fields

    @property
    def files(self) -> dict[str, tuple[Path, ...]]:
        """Input files by split, in ``SPLITS`` order (what the cache fingerprint hashes)."""
        return {split: getattr(self, split) for split in SPLITS}


class RawSource(Protocol):
    """Anything that can materialise a raw dataset. ``prepare`` must be idempotent: the first call
    may write files, later calls (from any process) just return the same ``RawSplits``."""

    def prepare(self) -> RawSplits: ...


@dataclass(frozen=True)
class PreprocessConfig:
    """Knobs of a build; all of them enter the cache fingerprint."""

    min_count: int = 2
    numeric_policy: NumericPolicy = "log_square"
    num_quantiles: int = 32
    row_group_rows: int = 65_536

    def __post_init__(self) -> None:
        if self.min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {self.min_count}")
        if self.numeric_policy not in ("log_square", "quantile"):
            raise ValueError(f"numeric_policy must be log_square|quantile: {self.numeric_policy!r}")
        if self.num_quantiles < 2:
            raise ValueError(f"num_quantiles must be >= 2, got {self.num_quantiles}")
        if self.row_group_rows < 1:
            raise ValueError(f"row_group_rows must be >= 1, got {self.row_group_rows}")


@dataclass(frozen=True)
class PreprocessedData:
    """A validated cache directory."""

    root: Path
    feature_map: FeatureMap

    def split_path(self, split: str) -> Path:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self.root / f"{split}.parquet"

    def num_rows(self, split: str) -> int:
        self.split_path(split)  # validates the name
        return int(self.feature_map.extra["rows"][split])

    def vocab_path(self, field: str) -> Path:
        return self.root / VOCAB_DIR / f"{field}.parquet"


def load_cached(
    raw: RawSplits, config: PreprocessConfig, cache_root: str | Path, verify_hash: bool = False
) -> PreprocessedData:
    """Open an existing valid cache without side effects (what every DDP rank may do)."""
    fp = fingerprint(raw, config)
    root = Path(cache_root) / cache_name(raw, fp)
    problem = validate(root, fp, verify_hash, _REQUIRED_FILES)
    if problem is not None:
        raise FileNotFoundError(f"no valid preprocessed cache at {root}: {problem}")
    return PreprocessedData(root, FeatureMap.load(root / FEATURE_MAP))


def load_or_build(
    raw: RawSplits,
    config: PreprocessConfig,
    cache_root: str | Path,
    verify_hash: bool = False,
    jobs: Jobs | None = None,
) -> PreprocessedData:
    """Return the cache for ``(raw, config)``, (re)building it when absent or invalid.

    ``verify_hash`` also checks every file's sha256 (reads all bytes); by default a cache is
    checked by fingerprint, file sizes and parquet footers/row counts. Safe to run concurrently:
    builders race to rename their temp dir and a loser uses the winner's cache. With ``jobs``
    of several parts the encode runs in parts (``reaction.data.encode_parts``): same bytes.
    """
    cache_root = Path(cache_root)
    cache_root.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(cache_root)
    fp = fingerprint(raw, config)
    root = cache_root / cache_name(raw, fp)
    if root.exists():
        problem = validate(root, fp, verify_hash, _REQUIRED_FILES)
        if problem is None:
            log.info("preprocess cache hit: %s", root)
            return PreprocessedData(root, FeatureMap.load(root / FEATURE_MAP))
        log.warning("preprocess cache %s is invalid (%s); deleting and rebuilding", root, problem)
        remove_dir(root)
    _check_inputs(raw)
    log.info("preprocess cache miss: building %s", root)
    publish(root, fp, lambda tmp: _build(raw, config, fp, tmp, jobs), _REQUIRED_FILES, verify_hash)
    return PreprocessedData(root, FeatureMap.load(root / FEATURE_MAP))


def _check_inputs(raw: RawSplits) -> None:
    """Fail early, naming the file, on a missing declared column or an empty training split."""
    for split in SPLITS:
        for path in getattr(raw, split):
            names = set(pq.read_schema(path).names)
            for column in raw.columns:
                if column not in names:
                    raise ValueError(f"{path}: missing column {column!r} ({split} split)")
    if sum(pq.ParquetFile(p).metadata.num_rows for p in raw.train) == 0:
        raise ValueError(f"training split is empty: {', '.join(map(str, raw.train))}")


def _build(
    raw: RawSplits, config: PreprocessConfig, fp: str, out: Path, jobs: Jobs | None = None
) -> None:
    """Fit on train, encode and write every split, the vocabularies and the feature map: in this
    process, or with ``jobs`` of several parts in parts (the same bytes, ``encode_parts``)."""
    edges = {}
    if config.numeric_policy == "quantile":
        edges = quantile_edges(scan(raw.train, raw), raw, config.num_quantiles)
    (out / VOCAB_DIR).mkdir()
    batch_rows = max(config.row_group_rows, ENCODE_BATCH_ROWS)
    if jobs is not None and jobs.num_parts > 1:
        vocabs = encode_in_parts(raw, config, edges, out, out / VOCAB_DIR, jobs, batch_rows)
    else:
        vocabs = _encode(raw, config, edges, out, batch_rows)
    rows = {split: _check_labels(out / f"{split}.parquet", raw.labels) for split in SPLITS}
    kinds = {f: "numeric" for f in raw.numeric} | {f: "categorical" for f in raw.categorical}
    specs = tuple(
        FieldSpec(name=f, kind=kinds[f], vocab_size=v.height + NUM_SPECIAL_IDS)
        for f, v in zip(raw.fields, vocabs, strict=True)
    )
    numeric = {
        "policy": config.numeric_policy,
        "quantile_edges": {f: list(e) for f, e in edges.items()},
        # bucket value of ids 2.. per numeric field: models that read magnitudes (AutoDis) need it
        "bucket_values": {
            f: v["value"].to_list()
            for f, v in zip(raw.fields, vocabs, strict=True)
            if f in raw.numeric
        },
    }
    extra = {"rows": rows, "fingerprint": fp, "code_version": CODE_VERSION, "numeric": numeric}
    FeatureMap(fields=specs, labels=raw.labels, dataset=raw.dataset, extra=extra).save(
        out / FEATURE_MAP
    )


def _encode(
    raw: RawSplits,
    config: PreprocessConfig,
    edges: dict[str, tuple[float, ...]],
    out: Path,
    batch_rows: int,
) -> list[pl.DataFrame]:
    """The vocabularies from the whole training split's counts, then every split's ids."""
    train = scan(raw.train, raw).select(value_exprs(raw, config, edges))
    vocabs = fit_vocabs(train, raw.fields, config.min_count)
    for field, vocab in zip(raw.fields, vocabs, strict=True):
        vocab.write_parquet(out / VOCAB_DIR / f"{field}.parquet")
    encode = batch_encoder(raw, config, edges, vocabs)
    for split in SPLITS:
        transform_parquet(
            getattr(raw, split),
            raw.columns,
            encode,
            empty_input(raw),
            out / f"{split}.parquet",
            config.row_group_rows,
            batch_rows,
        )
    return vocabs


def _check_labels(path: Path, labels: tuple[str, ...]) -> int:
    """Row count of a written split; raises on null labels (seen in the parquet statistics)."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(j).name for j in range(meta.num_columns)]
    for i in range(meta.num_row_groups):
        for label in labels:
            stats = meta.row_group(i).column(names.index(label)).statistics
            if stats is not None and stats.has_null_count and stats.null_count > 0:
                raise ValueError(f"{path.stem} split: label {label!r} has null values")
    return meta.num_rows
