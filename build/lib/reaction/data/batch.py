"""The typed batch every model and the Lightning module consume."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """A ready-made batch.

    features: ``(B, F)`` int64 per-field ids (see ``reaction.data.schema``).
    labels:   ``(B, L)`` float32 in {0, 1}, one column per label of the feature map.
    """

    features: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.features.shape[0]

    def pin_memory(self) -> Batch:
        """What ``DataLoader(pin_memory=True)`` calls: page-locked host copies, so the copy to
        the GPU (Lightning moves batches with ``non_blocking=True``) overlaps the step."""
        return Batch(self.features.pin_memory(), self.labels.pin_memory())
