"""Structural redundancy of a trained CTR model (REACTION.md, "Structural and feature redundancy").

The paper motivates REACTION by showing that ~10% of the dense (MLP) parameters keep ~98.5% of
the performance. This report measures that for any trained net: validation AUC vs. fraction of
dense weights removed by global magnitude pruning, plus the per-neuron ablation drops and
``I(activation; Y)`` of :mod:`reaction.info.neurons`; JSON and two PNGs.

"Dense" follows :func:`reaction.models.layers.embedding.split_parameters`: every trainable
parameter outside ``FieldEmbedding``. Only weight *matrices* are pruned; biases and norm
parameters (< 1% of dense parameters) are kept, because zeroing them removes no connection (a
zero BatchNorm scale silences a whole neuron; a bias is an offset, not on the weights' scale).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reaction.data.batch import Batch
from reaction.info.neurons import auc, neuron_analysis
from reaction.models.layers.embedding import split_parameters
from reaction.utils.jsonio import write_json_atomic

log = logging.getLogger(__name__)

REPORT_FILE = "structural.json"
PRUNING_PLOT = "structural_pruning.png"
NEURON_PLOT = "structural_neurons.png"
DEFAULT_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
LIFT = "(auc_p - 0.5) / (auc_0 - 0.5): the share of the unpruned AUC above chance that is kept"
RATIO = "auc_p / auc_0: the plain AUC ratio (lenient: a random model keeps >= 0.5 / auc_0)"


@dataclass(frozen=True)
class StructuralConfig:
    """What the report measures; validated so a typo fails before minutes of evaluation.

    ``max_val_rows``: cap on validation rows for the pruning curve (``None``: the whole split,
    which makes the unpruned AUC equal training's ``val/auc``). ``sample_rows``: seeded random
    subset of those rows for ablation and MI (ablation costs ``neurons x sample_rows`` rows of the
    layers after each neuron). ``pass_rows``: rows per batched ablation pass.
    """

    prune_fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    max_val_rows: int | None = None
    sample_rows: int = 4096
    activation_bins: int = 16
    keep: float = 0.985
    negligible_drop: float = 1e-4
    eval_batch_size: int = 4096
    pass_rows: int = 32768
    seed: int = 0

    def __post_init__(self) -> None:
        fractions = tuple(float(f) for f in self.prune_fractions)
        if not fractions or any(not 0.0 <= f < 1.0 for f in fractions):
            raise ValueError(f"prune_fractions must be non-empty, in [0, 1), got {fractions}")
        object.__setattr__(self, "prune_fractions", tuple(sorted({0.0, *fractions})))
        if self.max_val_rows is not None and self.max_val_rows < 1:
            raise ValueError(f"max_val_rows must be >= 1 or None, got {self.max_val_rows}")
        if min(self.sample_rows, self.eval_batch_size, self.pass_rows) < 1:
            raise ValueError(
                f"sample_rows ({self.sample_rows}), eval_batch_size ({self.eval_batch_size}) "
                f"and pass_rows ({self.pass_rows}) must be >= 1"
            )
        if self.activation_bins < 2:
            raise ValueError(f"activation_bins must be >= 2, got {self.activation_bins}")
        if not 0.0 < self.keep <= 1.0 or self.negligible_drop < 0:
            raise ValueError(f"need keep in (0, 1] and negligible_drop >= 0, got {self}")


def collect_rows(batches: Iterable[Batch], max_rows: int | None) -> tuple[torch.Tensor, ...]:
    """``(N, F)`` features and ``(N,)`` first-label targets of the first ``max_rows`` rows."""
    features, labels, n = [], [], 0
    for batch in batches:
        take = len(batch) if max_rows is None else min(len(batch), max_rows - n)
        features.append(batch.features[:take])
        labels.append(batch.labels[:take, 0])
        n += take
        if max_rows is not None and n >= max_rows:
            break
    if not n:
        raise ValueError("no validation rows to evaluate")
    return torch.cat(features), torch.cat(labels)


@torch.no_grad()
def predict(net: nn.Module, features: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``(N, F) -> (N,)`` logits in chunks, on the net's device."""
    device = next(net.parameters()).device
    chunks = [
        net(features[i : i + batch_size].to(device)) for i in range(0, len(features), batch_size)
    ]
    return torch.cat(chunks).cpu()


def dense_matrices(net: nn.Module) -> list[nn.Parameter]:
    """The prunable weights: dense (non-embedding) parameters with >= 2 dimensions."""
    return [p for p in split_parameters(net)[1] if p.dim() >= 2]


@contextmanager
def magnitude_pruned(net: nn.Module, fraction: float) -> Iterator[int]:
    """Zero the ``round(fraction * n)`` smallest-|w| entries of all dense matrices together.

    Global magnitude pruning as ``prune.global_unstructured(L1Unstructured)``, written as an
    in-place mask so the ``nn.Parameter`` objects survive (optimizers, ids); weights are restored
    on exit. Yields the number of zeroed entries.
    """
    weights = dense_matrices(net)
    k = round(fraction * sum(p.numel() for p in weights))
    backup = [p.detach().clone() for p in weights]
    try:
        if k:
            scores = torch.cat([p.detach().abs().flatten() for p in weights])
            keep = torch.ones_like(scores, dtype=torch.bool)
            keep[torch.topk(scores, k, largest=False).indices] = False
            with torch.no_grad():
                for p, mask in zip(weights, keep.split([p.numel() for p in weights]), strict=True):
                    p.mul_(mask.view_as(p))
        yield k
    finally:
        with torch.no_grad():
            for p, original in zip(weights, backup, strict=True):
                p.copy_(original)


def pruning_curve(
    net: nn.Module, features: torch.Tensor, labels: torch.Tensor, config: StructuralConfig
) -> dict[str, Any]:
    """Val AUC at each pruning fraction; also the zeroed share of *all* dense parameters."""
    dense = sum(p.numel() for p in split_parameters(net)[1])
    prunable = sum(p.numel() for p in dense_matrices(net))
    aucs, zeroed = [], []
    for fraction in config.prune_fractions:
        with magnitude_pruned(net, fraction) as k:
            aucs.append(auc(predict(net, features, config.eval_batch_size), labels))
        zeroed.append(k)
        log.info("pruned %.2f of dense matrices: val auc %.5f", fraction, aucs[-1])
    return {
        "fractions": list(config.prune_fractions),
        "auc": aucs,
        "zeroed_weights": zeroed,
        "fraction_of_all_dense": [k / dense for k in zeroed],
        "prunable_weights": prunable,
        "dense_params": dense,
        "rows": len(labels),
    }


def summarize_pruning(curve: dict[str, Any], keep: float) -> dict[str, Any]:
    """The paper's headline: the largest *evaluated* fraction that keeps ``keep`` of the AUC.

    Both definitions are reported (see ``LIFT``/``RATIO``); the lift is undefined (``None``) for
    a model at or below chance. Points need not be contiguous: the curve can be non-monotone.
    """
    fractions, aucs = curve["fractions"], curve["auc"]
    base = aucs[fractions.index(0.0)]
    ratio = [a / base for a in aucs]
    lift = [(a - 0.5) / (base - 0.5) if base > 0.5 else None for a in aucs]

    def largest(kept: list[float | None]) -> float | None:
        ok = [f for f, r in zip(fractions, kept, strict=True) if r is not None and r >= keep]
        return max(ok, default=None)

    def statement(f: float, a: float, r: float | None) -> str:
        kept = f", {r:.2%} of the AUC above 0.5 kept" if r is not None else ""
        return f"pruning {f:.0%} of dense weight matrices costs {base - a:.5f} AUC ({a:.5f}{kept})"

    return {
        "auc_unpruned": base,
        "lift_kept": lift,
        "ratio_kept": ratio,
        "keep": keep,
        "largest_fraction_lift": largest(lift),
        "largest_fraction_ratio": largest(ratio),
        "definitions": {"lift": LIFT, "ratio": RATIO},
        "statements": [statement(*p) for p in zip(fractions, aucs, lift, strict=True)],
    }


def structural_report(
    net: nn.Module, val_batches: Iterable[Batch], out_dir: str | Path, config: StructuralConfig
) -> dict[str, Any]:
    """Pruning curve + neuron ablation/MI on validation batches; writes JSON and two PNGs.

    The net is evaluated in eval mode (its mode is restored) and its weights are left unchanged.
    """
    out = Path(out_dir)
    features, labels = collect_rows(val_batches, config.max_val_rows)
    was_training = net.training
    net.eval()
    try:
        curve = pruning_curve(net, features, labels, config)
        g = torch.Generator().manual_seed(config.seed)
        pick = torch.randperm(len(labels), generator=g)[: config.sample_rows]
        device = next(net.parameters()).device
        neurons = neuron_analysis(
            net,
            features[pick].to(device),
            labels[pick],
            config.activation_bins,
            config.pass_rows,
            config.negligible_drop,
        )
    finally:
        net.train(was_training)
    report = {
        "config": {**asdict(config), "prune_fractions": list(config.prune_fractions)},
        "pruning": curve,
        "summary": summarize_pruning(curve, config.keep),
        "neuron_summary": neurons["summary"],
        "neurons": neurons["neurons"],
    }
    write_json_atomic(out / REPORT_FILE, report)
    plot_pruning(report, out / PRUNING_PLOT)
    plot_neurons(report, out / NEURON_PLOT)
    log.info("structural report written to %s", out / REPORT_FILE)
    return report


def plot_pruning(report: dict[str, Any], path: Path) -> None:
    """Val AUC vs. pruned fraction, with the ``keep`` threshold on the AUC above chance."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state (Agg by default)

    curve, summary = report["pruning"], report["summary"]
    base, keep = summary["auc_unpruned"], summary["keep"]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(curve["fractions"], curve["auc"], marker="o", label="global magnitude pruning")
    ax.axhline(0.5 + keep * (base - 0.5), ls="--", c="grey", label=f"{keep:.1%} of AUC - 0.5")
    ax.set(xlabel="fraction of dense weights pruned", ylabel="validation AUC")
    ax.set_title(f"structural redundancy ({curve['rows']} val rows)")
    ax.legend()
    fig.savefig(path, dpi=120)


def plot_neurons(report: dict[str, Any], path: Path) -> None:
    """Per-neuron AUC drop and ``I(a; Y)``, each sorted descending: how few neurons matter."""
    from matplotlib.figure import Figure

    rows = report["neurons"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(sorted((r["auc_drop"] for r in rows), reverse=True))
    left.axhline(report["neuron_summary"].get("negligible_drop", 0.0), ls="--", c="grey")
    left.set_yscale("symlog", linthresh=1e-5)  # drops span decades and can be negative
    left.set(xlabel="neuron (sorted)", ylabel="AUC drop when zeroed")
    right.plot(sorted((r["mi_nats"] for r in rows), reverse=True))
    right.set(xlabel="neuron (sorted)", ylabel="I(activation; Y) [nats]")
    fig.savefig(path, dpi=120)
