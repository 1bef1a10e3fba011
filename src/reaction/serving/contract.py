"""The served model's input contract: ``features (B, F) int64 -> logits (B,) float32``.

Every exported file carries it (TorchScript as an extra file, ONNX as metadata), so a serving
process can check a request against the fields the model was trained on from the file alone,
before a wrong-width batch silently reads the wrong embedding rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

CONTRACT_KEY = "reaction.contract"
INPUT_DTYPE = "int64"


@dataclass(frozen=True)
class InputContract:
    """Field names in column order, the input/output names and the input dtype."""

    field_names: tuple[str, ...]
    input_name: str = "features"
    output_name: str = "logits"
    dtype: str = INPUT_DTYPE

    @classmethod
    def for_fields(cls, field_names: Sequence[str]) -> InputContract:
        return cls(field_names=tuple(field_names))

    @classmethod
    def anonymous(cls, num_fields: int) -> InputContract:
        """For a net without a feature map: columns named ``f0 .. f{F-1}``."""
        return cls.for_fields([f"f{i}" for i in range(num_fields)])

    @classmethod
    def from_json(cls, text: str) -> InputContract:
        data = json.loads(text)
        return cls(**{**data, "field_names": tuple(data["field_names"])})

    @property
    def num_fields(self) -> int:
        return len(self.field_names)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "field_names": list(self.field_names)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def validate(self, features: np.ndarray | torch.Tensor) -> None:
        """Raise ``ValueError`` naming the expected dtype and fields when ``features`` differs."""
        dtype = str(features.dtype).removeprefix("torch.")
        if dtype != self.dtype:
            raise ValueError(
                f"{self.input_name}: expected dtype {self.dtype} (per-field ids), got {dtype}"
            )
        if features.ndim != 2 or features.shape[1] != self.num_fields:
            raise ValueError(
                f"{self.input_name}: expected shape (B, {self.num_fields}) with columns "
                f"{list(self.field_names)}, got {tuple(features.shape)}"
            )
