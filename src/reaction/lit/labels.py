"""Which labels a run trains, with which loss weights, and which one early stopping watches.

``module.labels`` names labels of the dataset (``FeatureMap.labels``, e.g. Ali-CCP's ``click`` and
``conversion``); null trains the dataset's first label alone, as every run did before multi-label
training. The first named label is the *primary* one: it is served, costed, and logged under the
plain keys (``val/auc``, ``test/auc``) that checkpointing, reports and sweeps read; every label of a
multi-label run is also logged as ``<stage>/<label>/<metric>``. ``module.monitor_label`` moves the
checkpoint / early-stopping / plateau monitor to ``val/<label>/auc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from reaction.config.nodes import ConfigError, did_you_mean
from reaction.config.values import is_number
from reaction.data.schema import FeatureMap
from reaction.metrics import keys


@dataclass(frozen=True)
class LabelSpec:
    """``names[l]`` is trained on batch label column ``columns[l]`` with loss weight
    ``weights[l]``; ``names[0]`` is primary. ``monitor`` is the key checkpoints follow."""

    names: tuple[str, ...]
    columns: tuple[int, ...]
    weights: tuple[float, ...]
    monitor: str

    @property
    def multi(self) -> bool:
        """Several labels: per-label keys are logged beside the primary's plain ones."""
        return len(self.names) > 1


def label_key(stage: str, label: str, metric: str) -> str:
    """``val/conversion/auc``: one label's metric in a multi-label run."""
    return f"{stage}/{label}/{metric}"


def label_problems(labels: Any, weights: Any, monitor_label: Any) -> list[str]:
    """What is wrong with ``module.labels`` / ``label_weights`` / ``monitor_label`` without
    knowing the dataset (checked at start-up; names are checked against the data later)."""
    problems = []
    if labels is not None and not (
        _is_list(labels) and labels and all(isinstance(n, str) for n in labels)
    ):
        return [f"module.labels={labels!r} (allowed: null or a non-empty list of label names)"]
    names = list(labels) if labels is not None else None
    if names is not None and len(set(names)) != len(names):
        problems.append(f"module.labels={names}: a label is named twice")
    if weights is not None:
        if not (_is_list(weights) and all(is_number(w) for w in weights)):
            return [*problems, f"module.label_weights={weights!r} (allowed: null or numbers)"]
        count = len(names) if names is not None else 1
        if len(weights) != count:
            problems.append(
                f"module.label_weights={list(weights)} has {len(weights)} weights, "
                f"module.labels={names} names {count} label(s) (allowed: one weight per label)"
            )
        problems += [
            f"module.label_weights={list(weights)}: weight {w} of label {i} is negative "
            "(allowed: weights >= 0)"
            for i, w in enumerate(weights)
            if w < 0
        ]
        if weights and all(w == 0 for w in weights):
            problems.append(f"module.label_weights={list(weights)}: all weights are 0")
    if monitor_label is not None and not isinstance(monitor_label, str):
        problems.append(f"module.monitor_label={monitor_label!r} (allowed: null or a label name)")
    elif monitor_label is not None and names is not None and monitor_label not in names:
        problems.append(
            f"module.monitor_label={monitor_label!r} is not trained "
            f"(allowed: one of module.labels={names})"
        )
    return problems


def label_spec(
    labels: Sequence[str] | None,
    weights: Sequence[float] | None,
    monitor_label: str | None,
    dataset_labels: Sequence[str],
) -> LabelSpec:
    """The run's labels resolved against the dataset's; :class:`ConfigError` names every
    problem (an unknown name lists the dataset's labels)."""
    problems = label_problems(labels, weights, monitor_label)
    names = tuple(labels) if labels is not None else tuple(dataset_labels[:1])
    allowed = ", ".join(dataset_labels)
    if not problems:
        problems += [
            f"module.labels: unknown label {n!r}{did_you_mean(n, dataset_labels)} "
            f"(allowed: {allowed})"
            for n in names
            if n not in dataset_labels
        ]
        if monitor_label is not None and monitor_label not in names:
            problems.append(
                f"module.monitor_label={monitor_label!r} is not trained (allowed: {names[0]!r}, "
                "or name more labels in module.labels)"
            )
    if problems:
        raise ConfigError(problems, "module labels")
    monitor = (
        keys.VAL_AUC
        if monitor_label in (None, names[0])
        else label_key("val", monitor_label, "auc")
    )
    return LabelSpec(
        names=names,
        columns=tuple(list(dataset_labels).index(n) for n in names),
        weights=tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(names),
        monitor=monitor,
    )


def run_labels(cfg: DictConfig, feature_map: FeatureMap) -> LabelSpec:
    """The labels of a composed ``train`` config (``module.*``) on its data; runs from before
    multi-label training have none of these keys and train the first label."""
    module = cfg.get("module") or {}
    return label_spec(
        module.get("labels"),
        module.get("label_weights"),
        module.get("monitor_label"),
        feature_map.labels,
    )


def _is_list(value: Any) -> bool:
    """A list from YAML or Python (OmegaConf's ListConfig is a Sequence too)."""
    return isinstance(value, Sequence) and not isinstance(value, str)
