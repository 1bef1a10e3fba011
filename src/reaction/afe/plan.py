"""The AFE plan: what AFE decided on the training split, as plain JSON, reused unchanged later.

Fitting (``fit_plan``) reads only the training split's parquet file; applying the plan
(``reaction.afe.net``) never looks at counts again. The plan names each chosen field with its
``J`` terms, its input vocabulary (size and a hash of the vocabulary file) and, with the
extensions, its kept values and embedding size; every other field is listed with why it was
dropped. It travels inside every checkpoint (the net's extra state) and as ``afe_plan.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from reaction.afe.config import AFEConfig
from reaction.afe.extensions import VocabCompression, compress_vocabulary, relevance_dims
from reaction.afe.selector import Selection, select_fields
from reaction.data.schema import FeatureMap
from reaction.info.counts import CountTables, count_fields, sample_rows

PLAN_FILE = "afe_plan.json"
PLAN_VERSION = 1


@dataclass(frozen=True)
class PlannedField:
    """A chosen field: its ``J`` terms when picked (AFE) or its ``score`` (another selector,
    ``reaction.afe.selectors``), and how it is embedded."""

    name: str
    vocab_size: int  # of the feature map the plan was fitted on
    vocab_hash: str | None  # sha256 of the field's vocabulary file, when there is one
    j: float | None
    pi: float | None
    bi: float | None
    ci: float | None
    compression: VocabCompression | None = None
    dim: int | None = None  # None: the model's own embedding size
    score: float | None = None  # the ranking score of a selector other than AFE

    @property
    def compact_size(self) -> int:
        return self.compression.compact_size if self.compression else self.vocab_size


@dataclass(frozen=True)
class AFEPlan:
    variant: str
    labels: tuple[str, ...]
    fields: tuple[PlannedField, ...]
    dropped: tuple[dict[str, Any], ...]
    subspace_dim: int | None = None
    ib_beta: float = 0.0
    fitted_on: dict[str, Any] | None = None
    config: dict[str, Any] | None = None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def mixed_dims(self) -> bool:
        return any(f.dim is not None for f in self.fields)

    def columns(self, feature_map: FeatureMap) -> list[int]:
        """Batch columns of the chosen fields in ``feature_map``; checks names and vocabularies."""
        names = feature_map.field_names
        missing = [f.name for f in self.fields if f.name not in names]
        if missing:
            raise ValueError(f"AFE plan fields {missing} are not in the input fields {names}")
        for planned in self.fields:
            size = feature_map.fields[names.index(planned.name)].vocab_size
            if size != planned.vocab_size:
                raise ValueError(
                    f"field {planned.name!r}: the AFE plan was fitted on a vocabulary of "
                    f"{planned.vocab_size} ids, the input has {size}; refit the plan"
                )
        return [names.index(f.name) for f in self.fields]

    def compact_feature_map(self, feature_map: FeatureMap) -> FeatureMap:
        """The chosen fields only, with their compact vocabulary sizes, in plan order."""
        specs = [feature_map.fields[i] for i in self.columns(feature_map)]
        fields = tuple(
            replace(spec, vocab_size=p.compact_size)
            for spec, p in zip(specs, self.fields, strict=True)
        )
        return FeatureMap(fields, feature_map.labels, feature_map.dataset, dict(feature_map.extra))

    def to_dict(self) -> dict[str, Any]:
        return _json_safe({"version": PLAN_VERSION, **asdict(self)})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AFEPlan:
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"AFE plan version {data.get('version')!r}, expected {PLAN_VERSION}")
        fields = []
        for entry in data["fields"]:
            entry = dict(entry)
            if entry.get("compression") is not None:
                c = entry["compression"]
                entry["compression"] = VocabCompression(
                    tuple(c["kept"]), c["tail_buckets"], c["mi_share"]
                )
            fields.append(PlannedField(**entry))
        return cls(
            variant=data["variant"],
            labels=tuple(data["labels"]),
            fields=tuple(fields),
            dropped=tuple(data["dropped"]),
            subspace_dim=data.get("subspace_dim"),
            ib_beta=data.get("ib_beta", 0.0),
            fitted_on=data.get("fitted_on"),
            config=data.get("config"),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    def fingerprint(self) -> str:
        """Hash of what changes the served model (not the timing or provenance)."""
        core = {k: v for k, v in self.to_dict().items() if k not in ("fitted_on", "config")}
        return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, path: str | Path) -> AFEPlan:
        return cls.from_dict(json.loads(Path(path).read_text()))


def _json_safe(value: Any) -> Any:
    """Plain Python values (checkpoints load them with ``weights_only``), NaN/inf -> None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _file_hash(path: Path | None) -> str | None:
    if path is None or not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _planned_fields(
    selection: Selection,
    tables: CountTables,
    feature_map: FeatureMap,
    cfg: AFEConfig,
    embedding_dim: int | None,
    vocab_files: Mapping[str, Path],
) -> tuple[PlannedField, ...]:
    """Chosen fields with the extensions applied (``variant="extended"`` only)."""
    sizes = dict(zip(feature_map.field_names, feature_map.vocab_sizes, strict=True))
    extended = cfg.variant == "extended"
    fields = []
    for c in selection.chosen:
        compression = None
        if extended and cfg.mi_retain is not None:
            compression = compress_vocabulary(
                tables[c.field], cfg.mi_retain, cfg.tail_buckets, cfg.value_shrinkage
            )
        fields.append(
            PlannedField(
                c.field, sizes[c.field], _file_hash(vocab_files.get(c.field)),
                _finite(c.j), c.pi, c.bi, _finite(c.ci), compression,
            )
        )  # fmt: skip
    if extended and cfg.dim_policy == "relevance":
        if embedding_dim is None:
            raise ValueError("afe.dim_policy=relevance needs a model with an embedding_dim")
        pis = {f.name: f.pi for f in fields}
        compact = {f.name: f.compact_size for f in fields}
        dims = relevance_dims(pis, compact, embedding_dim, cfg.min_dim)
        fields = [replace(f, dim=dims[f.name]) for f in fields]
    return tuple(fields)


def fit_plan(
    train_path: str | Path,
    feature_map: FeatureMap,
    cfg: AFEConfig,
    embedding_dim: int | None = None,
    vocab_files: Mapping[str, Path] | None = None,
) -> AFEPlan:
    """Select (and, extended, compress) fields from the training split at ``train_path`` only."""
    if not cfg.enabled:
        raise ValueError("fit_plan: afe.variant is 'none'; there is no plan to fit")
    if cfg.selector:
        from reaction.afe.selectors.plan import fit_selector_plan  # imports this module

        return fit_selector_plan(train_path, feature_map, cfg, vocab_files)
    start = time.perf_counter()
    names, labels = tuple(feature_map.field_names), tuple(feature_map.labels)
    sizes = dict(zip(names, feature_map.vocab_sizes, strict=True))
    tables = count_fields(train_path, names, labels, vocab_sizes=sizes)
    sample = sample_rows(train_path, names, labels, cfg.pair_sample_rows, cfg.seed)
    selection = select_fields(tables, sample, labels, cfg)
    fields = _planned_fields(selection, tables, feature_map, cfg, embedding_dim, vocab_files or {})
    extended = cfg.variant == "extended"
    return AFEPlan(
        variant=cfg.variant,
        labels=labels,
        fields=fields,
        dropped=tuple(
            {"field": d.field, "reason": d.reason, **d.detail} for d in selection.dropped
        ),
        subspace_dim=cfg.subspace_dim if extended else None,
        ib_beta=cfg.ib_beta if extended else 0.0,
        fitted_on={
            "split": "train",
            "rows": tables.num_rows,
            "pair_sample_rows": sample.size,
            "feature_map": feature_map.fingerprint(),
            "seconds": time.perf_counter() - start,
        },
        config=cfg.to_dict(),
    )
