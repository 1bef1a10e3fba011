"""The feature redundancy report: which fields inform each label, which are noise, which repeat.

Reproduces the paper's motivating measurement (REACTION.md, "Structural and feature redundancy
analysis") for any preprocessed dataset, on the training split only. Per label ``Y_l`` and field
``X``: cardinality, ``H(X)``, the Miller–Madow ``I(X;Y_l)``, relevance ``I/H(Y_l)``, the
permutation null level, a verdict, and the MI-retention curve of its values; per field pair:
symmetric uncertainty, ``I(X_i;X_j|Y_l)`` and synergy (on a row sample, see ``pairs``).

Verdicts (per label, first rule that applies; thresholds are ``ReportConfig`` knobs):

* ``noise`` -- ``I(X;Y_l)`` at or below the null level (``null_quantile`` of ``I(X;Y_perm)`` over
  ``null_permutations`` label permutations): indistinguishable from a field with no information;
* ``redundant-with-<X>`` -- symmetric uncertainty with a non-noise field ``X`` of higher relevance
  is at least ``redundant_su`` (``X`` = the highest such SU): the field mostly repeats ``X``;
* ``weak`` -- relevance below ``weak_relevance`` (a share of ``H(Y_l)``);
* ``informative`` -- otherwise.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reaction.data.schema import FeatureMap
from reaction.info.counts import CountTables, count_fields, sample_rows
from reaction.info.estimators import (
    CORRECTIONS,
    Correction,
    conditional_mutual_information,
    entropy,
    mutual_information,
    retention_curve,
    value_contributions,
)
from reaction.info.pairs import PairMeasures, pair_measures
from reaction.info.permutation import permutation_null

log = logging.getLogger(__name__)

NOISE, WEAK, INFORMATIVE, REDUNDANT = "noise", "weak", "informative", "redundant-with-"
RETENTION_SHARES = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class ReportConfig:
    """Knobs of the feature report (``conf/analyze.yaml``, block ``feature``)."""

    labels: tuple[str, ...] | None = None  # None: every label of the feature map
    fields: tuple[str, ...] | None = None  # None: every field
    correction: Correction = "miller_madow"
    null_permutations: int = 100
    null_quantile: float = 0.99
    weak_relevance: float = 1e-3
    redundant_su: float = 0.5
    value_shrinkage: float = 10.0  # pseudo-counts pulling p(y|x) of rare values toward p(y)
    pair_sample_rows: int = 200_000
    synergy_min_cell_rows: int = 30
    synergy_max_sparse_share: float = 0.01
    top_pairs: int = 10
    retention_points: int = 40
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("labels", "fields"):  # accept lists from Hydra, store tuples
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = [
            (self.correction not in CORRECTIONS, f"correction {self.correction!r}"),
            (self.null_permutations < 1, f"null_permutations {self.null_permutations}"),
            (not 0 <= self.null_quantile <= 1, f"null_quantile {self.null_quantile}"),
            (self.weak_relevance < 0, f"weak_relevance {self.weak_relevance}"),
            (not 0 < self.redundant_su <= 1, f"redundant_su {self.redundant_su}"),
            (self.value_shrinkage < 0, f"value_shrinkage {self.value_shrinkage}"),
            (self.pair_sample_rows < 1, f"pair_sample_rows {self.pair_sample_rows}"),
            (not 0 <= self.synergy_max_sparse_share <= 1, "synergy_max_sparse_share"),
            (min(self.top_pairs, self.retention_points) < 1, "top_pairs/retention_points"),
        ]
        bad = [message for failed, message in problems if failed]
        if bad:
            raise ValueError(f"invalid ReportConfig: {'; '.join(bad)}")

    def resolve(self, feature_map: FeatureMap) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The fields and labels to report, checked against the feature map."""
        fields = self.fields or tuple(feature_map.field_names)
        labels = self.labels or tuple(feature_map.labels)
        unknown = [f for f in fields if f not in feature_map.field_names]
        unknown += [label for label in labels if label not in feature_map.labels]
        if unknown:
            raise ValueError(
                f"unknown fields/labels {unknown}; the feature map has fields "
                f"{feature_map.field_names} and labels {list(feature_map.labels)}"
            )
        return fields, labels


def _clean(value: Any) -> Any:
    """JSON-ready: NaN -> None, numpy -> Python, arrays -> (nested) lists."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def retention_summary(contributions: np.ndarray, points: int) -> dict[str, Any]:
    """The MI-retention curve at ~``points`` log-spaced vocabulary sizes, and its milestones."""
    share = retention_curve(contributions)
    size = share.size
    ks = np.unique(np.round(np.geomspace(1, size, min(points, size))).astype(int))
    needed = {str(q): int(np.searchsorted(share, q - 1e-12) + 1) for q in RETENTION_SHARES}
    return {
        "num_values": size,
        "values": ks.tolist(),
        "share": share[ks - 1].tolist(),
        "values_for_share": needed if share[-1] > 0 else {},
    }


def _label_entry(table: np.ndarray, h_y: float, cfg: ReportConfig) -> dict[str, Any]:
    """Relevance, null level and value retention of one field for one label (full data)."""
    mi = mutual_information(table, cfg.correction)
    null = permutation_null(
        table, cfg.null_permutations, cfg.null_quantile, cfg.seed, cfg.correction
    )
    contributions = value_contributions(table, cfg.value_shrinkage)
    return {
        "mi": mi,
        "mi_plugin": mutual_information(table),
        "relevance": mi / h_y if h_y > 0 else 0.0,
        "null_mi": null,
        "null_relevance": null / h_y if h_y > 0 else 0.0,
        "mi_shrunk": float(contributions.sum()),
        "retention": retention_summary(contributions, cfg.retention_points),
    }


def _field_entry(tables: CountTables, name: str, labels, h_y, cfg) -> dict[str, Any]:
    counts = tables[name]
    entry: dict[str, Any] = {
        "field": name,
        "cardinality": int(counts.ids.size),
        "entropy": entropy(counts.counts.sum(1)),
        "labels": {label: _label_entry(counts.table(label), h_y[label], cfg) for label in labels},
    }
    for label in labels:  # behaviour term I(X;Y_l|Y_l') of AFE, when several labels
        entry["labels"][label]["conditional_on"] = {
            other: conditional_mutual_information(counts.table(label, other), cfg.correction)
            for other in labels
            if other != label
        }
    return entry


def _verdict(entry: dict, fields: list[dict], pairs: PairMeasures, label: str, cfg) -> str:
    """The first rule of the module docstring that applies to one field and label."""
    own = entry["labels"][label]
    if own["mi"] <= own["null_mi"]:
        return NOISE
    i = pairs.index(entry["field"])
    partners = [
        (pairs.su[i, pairs.index(other["field"])], other["field"])
        for other in fields
        if other is not entry
        and other["labels"][label]["relevance"] > own["relevance"]
        and other["labels"][label]["mi"] > other["labels"][label]["null_mi"]
    ]
    best = max(partners, default=(0.0, None))
    if best[0] >= cfg.redundant_su:
        return f"{REDUNDANT}{best[1]}"
    return WEAK if own["relevance"] < cfg.weak_relevance else INFORMATIVE


def _pairs_entry(pairs: PairMeasures, sample, cfg: ReportConfig) -> dict[str, Any]:
    return {
        "fields": list(pairs.fields),
        "sample": {
            "sampled": sample.sampled,
            "rows": sample.size,
            "of_rows": sample.num_rows,
            "seed": sample.seed,
        },
        "entropy": pairs.entropy,
        "mi": pairs.mi,
        "su": pairs.su,
        "cells": pairs.cells,
        "conditional_mi": pairs.conditional_mi,
        "synergy": pairs.synergy,
        "top_synergy": {
            label: [
                {
                    "fields": [a, b],
                    "synergy": value,
                    "conditional_mi": pairs.conditional_mi[label][pairs.index(a), pairs.index(b)],
                }
                for a, b, value in pairs.top_synergy(label, cfg.top_pairs)
            ]
            for label in pairs.labels
        },
    }


def feature_report(
    path: str | Path, feature_map: FeatureMap, config: ReportConfig | None = None
) -> dict[str, Any]:
    """The JSON-ready report of a preprocessed split file (the training split, by convention)."""
    cfg = config or ReportConfig()
    fields, labels = cfg.resolve(feature_map)
    vocab = dict(zip(feature_map.field_names, feature_map.vocab_sizes, strict=True))
    tables = count_fields(path, fields, feature_map.labels, {f: vocab[f] for f in fields})
    joint = tables.label_counts()[None, :]
    h_y = {label: entropy(tables[fields[0]].table(label).sum(0)) for label in labels}
    entries = [_field_entry(tables, name, labels, h_y, cfg) for name in fields]
    kinds = {f.name: f.kind for f in feature_map.fields}
    for entry in entries:
        entry["kind"] = kinds[entry["field"]]
    sample = sample_rows(path, fields, feature_map.labels, cfg.pair_sample_rows, cfg.seed)
    pairs = pair_measures(
        sample, labels, cfg.correction, cfg.synergy_min_cell_rows, cfg.synergy_max_sparse_share
    )
    for entry in entries:
        for label in labels:
            verdict = _verdict(entry, entries, pairs, label, cfg)
            entry["labels"][label]["verdict"] = verdict
    log.info(
        "feature report: %d fields, %d labels, %d rows", len(fields), len(labels), tables.num_rows
    )
    return _clean(
        {
            "dataset": feature_map.dataset,
            "feature_map": feature_map.fingerprint(),
            "rows": tables.num_rows,
            "labels": list(labels),
            "label_entropy": h_y,
            "joint_label_entropy": entropy(joint),
            "config": asdict(cfg),
            "fields": entries,
            "pairs": _pairs_entry(pairs, sample, cfg),
        }
    )


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _sample_line(report: dict[str, Any]) -> str:
    sample = report["pairs"]["sample"]
    if sample["sampled"]:
        return (
            f"Pair measures (SU, conditional MI, synergy) on a uniform sample of "
            f"{sample['rows']:,} of {sample['of_rows']:,} rows (seed {sample['seed']})."
        )
    return f"Pair measures on all {sample['rows']:,} rows (no sample needed)."


def to_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: one table per label (by relevance) and its top synergy pairs."""
    cfg = report["config"]
    lines = [
        f"# Feature redundancy report: {report['dataset']} (train split)",
        "",
        f"{report['rows']:,} training rows; label entropies "
        + ", ".join(f"H({k}) = {v:.4f}" for k, v in report["label_entropy"].items())
        + f" nats. MI estimator: {cfg['correction']}. {_sample_line(report)}",
        "",
        f"Verdicts: **noise** = I <= null level ({cfg['null_quantile']} quantile over "
        f"{cfg['null_permutations']} label permutations); **redundant-with-X** = symmetric "
        f"uncertainty >= {cfg['redundant_su']} with a more relevant non-noise field X; **weak** = "
        f"relevance < {cfg['weak_relevance']}; **informative** otherwise. Relevance and null "
        f"level are shares of H(label).",
    ]
    for label in report["labels"]:
        rows = sorted(report["fields"], key=lambda e: -e["labels"][label]["relevance"])
        lines += ["", f"## {label}", ""]
        lines += [
            "| field | cardinality | H (nats) | I (nats) | relevance | null level | verdict |"
        ]
        lines += ["|---|---:|---:|---:|---:|---:|---|"]
        for e in rows:
            own = e["labels"][label]
            lines.append(
                f"| {e['field']} | {e['cardinality']} | {_fmt(e['entropy'])} | {_fmt(own['mi'])} "
                f"| {_fmt(own['relevance'])} | {_fmt(own['null_relevance'])} | {own['verdict']} |"
            )
        lines += ["", f"Top synergy pairs for {label}:", ""]
        lines += ["| pair | synergy (nats) | I(Xi;Xj\\|Y) (nats) |", "|---|---:|---:|"]
        for pair in report["pairs"]["top_synergy"][label]:
            a, b = pair["fields"]
            lines.append(
                f"| {a} x {b} | {_fmt(pair['synergy'])} | {_fmt(pair['conditional_mi'])} |"
            )
    return "\n".join(lines) + "\n"
