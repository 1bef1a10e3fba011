"""Load exported files as a server would and compare their logits with the PyTorch net's.

Each runtime (``reaction.serving.runtime``) is built from the file on disk (not from the
in-memory export), validates requests against the contract stored in that file, and takes numpy
ids, as a serving process gets them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from reaction.serving.export import Artifact
from reaction.serving.runtime import LOADERS


class ParityError(RuntimeError):
    """An exported model's logits differ from the PyTorch net's by more than the tolerance."""


def measure_parity(
    net: nn.Module,
    artifacts: dict[str, Artifact],
    rows: torch.Tensor,
    batch_sizes: Sequence[int],
) -> dict[str, object]:
    """Max ``|logit diff|`` of each exported file vs. ``net`` on the first ``b`` rows, per ``b``.

    ``max_abs_logit`` puts the absolute differences on a scale (float32 carries ~7 digits).
    """
    if max(batch_sizes) > rows.shape[0]:
        raise ValueError(
            f"batch sizes {list(batch_sizes)} need {max(batch_sizes)} rows, got {rows.shape[0]}"
        )
    net.eval()
    with torch.no_grad():
        expected = {b: net(rows[:b]).numpy() for b in batch_sizes}
    formats = {}
    for fmt, artifact in artifacts.items():
        model = LOADERS[fmt](artifact.path)
        per_batch = {
            str(b): _max_diff(model(rows[:b].numpy()), want) for b, want in expected.items()
        }
        # np.max, not max(): a NaN must propagate whatever its position
        worst = float(np.max(list(per_batch.values())))
        formats[fmt] = {"max_abs_diff": worst, "per_batch": per_batch}
    return {
        "batch_sizes": list(batch_sizes),
        "max_abs_logit": max(float(np.abs(v).max()) for v in expected.values()),
        "formats": formats,
    }


def _max_diff(got: np.ndarray, want: np.ndarray) -> float:
    if got.shape != want.shape:
        raise ParityError(f"exported model returned shape {got.shape}, PyTorch {want.shape}")
    return float(np.abs(got.astype(np.float64) - want).max())


def parity_failures(report: dict[str, object], tolerance: float) -> dict[str, dict[str, float]]:
    """Per-batch differences of every format whose max ``|diff|`` is not within ``tolerance``."""
    return {
        fmt: numbers["per_batch"]
        for fmt, numbers in report["formats"].items()
        if not numbers["max_abs_diff"] <= tolerance  # NaN fails too
    }


def check_parity(report: dict[str, object], tolerance: float) -> None:
    """Raise ``ParityError`` naming every format whose max ``|diff|`` exceeds ``tolerance``."""
    failed = parity_failures(report, tolerance)
    if failed:
        details = "; ".join(f"{fmt}: max |diff| per batch size {d}" for fmt, d in failed.items())
        raise ParityError(
            f"exported logits differ from PyTorch by more than {tolerance:g}: {details}"
        )
