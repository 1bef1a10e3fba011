"""The feature map: the contract between preprocessing and every model.

After preprocessing every field is categorical: numeric fields are bucketed, so a model only ever
sees a ``(B, F)`` tensor of per-field ids. Each field reserves two ids before its vocabulary:
``MISSING_ID`` for a null/NaN input and ``OOV_ID`` for a value that was rare or unseen in training.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

FieldKind = Literal["categorical", "numeric"]

MISSING_ID = 0
OOV_ID = 1
NUM_SPECIAL_IDS = 2


@dataclass(frozen=True)
class FieldSpec:
    """One input field. ``kind`` is the *source* kind; ``vocab_size`` counts the special ids."""

    name: str
    kind: FieldKind
    vocab_size: int

    def __post_init__(self) -> None:
        if self.kind not in ("categorical", "numeric"):
            raise ValueError(
                f"field {self.name!r}: kind must be categorical|numeric, got {self.kind!r}"
            )
        if self.vocab_size < NUM_SPECIAL_IDS:
            raise ValueError(
                f"field {self.name!r}: vocab_size {self.vocab_size} < {NUM_SPECIAL_IDS} special ids"
            )


@dataclass(frozen=True)
class FeatureMap:
    """Ordered fields and labels of a preprocessed dataset; batch column ``i`` is ``fields[i]``."""

    fields: tuple[FieldSpec, ...]
    labels: tuple[str, ...] = ("click",)
    dataset: str = "unknown"
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate field names in feature map: {names}")
        if not self.fields:
            raise ValueError("a feature map needs at least one field")
        if not self.labels:
            raise ValueError("a feature map needs at least one label")

    @property
    def num_fields(self) -> int:
        return len(self.fields)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def vocab_sizes(self) -> list[int]:
        return [f.vocab_size for f in self.fields]

    def to_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "labels": list(self.labels),
            "fields": [asdict(f) for f in self.fields],
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureMap:
        return cls(
            fields=tuple(FieldSpec(**f) for f in data["fields"]),
            labels=tuple(data["labels"]),
            dataset=data.get("dataset", "unknown"),
            extra=dict(data.get("extra", {})),
        )

    def fingerprint(self) -> str:
        """Content hash logged with every run, so results name the exact data contract."""
        payload = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, default=str))

    @classmethod
    def load(cls, path: str | Path) -> FeatureMap:
        return cls.from_dict(json.loads(Path(path).read_text()))
