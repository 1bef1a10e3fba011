"""The served model's input contract: ``features (B, F) int64 -> logits (B,) float32``.

Every exported file carries it (TorchScript as an extra file, ONNX as metadata), so a serving
process can check a request against the fields the model was trained on from the file alone.
The checks live here, once; every runtime (``reaction.serving.runtime``: the PyTorch net, the
TorchScript file, the ONNX file) runs them before the model.

Values are checked, not only dtype and width, because no exported graph checks them: the eager
id checks of ``FieldEmbedding``/``AFEInput`` cannot be traced, so a traced embedding reads row
``offsets[i] + id`` and an id too large for field ``i`` silently reads field ``i + 1``'s rows,
while ONNX ``Gather`` reads a negative id from the end of the table. Ids come from the run's
vocabulary (``reaction.serving.RequestEncoder``: unseen raw values -> ``OOV_ID``), so an id
outside ``[0, vocab_size)`` is a broken encoder, never traffic to guess about.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
import torch

from reaction.data.schema import FeatureMap

CONTRACT_KEY = "reaction.contract"
INPUT_DTYPE = "int64"
# Integer dtypes every value of which is an int64: cast, never an error (uint64 is not one).
_LOSSLESS_KINDS = {"i": 8, "u": 4}


@dataclass(frozen=True)
class InputContract:
    """Field names in column order, the input/output names, the input dtype and, for a model
    trained on a feature map, each field's vocabulary size (``None``: ids are not range-checked,
    e.g. a file exported before the sizes were recorded)."""

    field_names: tuple[str, ...]
    input_name: str = "features"
    output_name: str = "logits"
    dtype: str = INPUT_DTYPE
    vocab_sizes: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.vocab_sizes is not None and len(self.vocab_sizes) != len(self.field_names):
            raise ValueError(
                f"{len(self.field_names)} fields but {len(self.vocab_sizes)} vocab sizes"
            )

    @classmethod
    def for_fields(cls, field_names: Sequence[str]) -> InputContract:
        return cls(field_names=tuple(field_names))

    @classmethod
    def for_feature_map(cls, feature_map: FeatureMap) -> InputContract:
        """What a model trained on ``feature_map`` accepts: its fields and their id ranges."""
        return cls(tuple(feature_map.field_names), vocab_sizes=tuple(feature_map.vocab_sizes))

    @classmethod
    def anonymous(cls, num_fields: int) -> InputContract:
        """For a net without a feature map: columns named ``f0 .. f{F-1}``."""
        return cls.for_fields([f"f{i}" for i in range(num_fields)])

    @classmethod
    def from_json(cls, text: str) -> InputContract:
        data = json.loads(text)
        sizes = data.get("vocab_sizes")
        return cls(
            **{
                **data,
                "field_names": tuple(data["field_names"]),
                "vocab_sizes": None if sizes is None else tuple(sizes),
            }
        )

    @property
    def num_fields(self) -> int:
        return len(self.field_names)

    def to_dict(self) -> dict[str, object]:
        sizes = None if self.vocab_sizes is None else list(self.vocab_sizes)
        return {**asdict(self), "field_names": list(self.field_names), "vocab_sizes": sizes}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def validate(self, features: np.ndarray | torch.Tensor) -> None:
        """The exact model input: ``(B, F)`` int64, every id within its field's vocabulary.

        Raises ``ValueError`` naming the expected dtype, the expected fields, or the field and
        the id that is out of range.
        """
        dtype = str(features.dtype).removeprefix("torch.")
        if dtype != self.dtype:
            raise ValueError(
                f"{self.input_name}: expected dtype {self.dtype} (per-field ids), got {dtype}"
            )
        self._check_width(tuple(features.shape))
        self._check_ranges(features)

    def prepare(self, request: Any) -> np.ndarray:
        """A request as a server receives it -> the validated ``(B, F)`` int64 model input.

        ``request``: positional ids (an array or tensor of shape ``(B, F)``, columns in
        ``field_names`` order) or named columns (a mapping or polars DataFrame of ``(B,)`` id
        columns; every field required, others ignored). Integer ids of a narrower type (int8..32,
        uint8..32) are cast to int64; floats, booleans, strings and uint64 are refused.
        """
        if isinstance(request, Mapping | pl.DataFrame):
            self.check_fields(request.keys() if isinstance(request, Mapping) else request.columns)
            columns = [_as_ids(request[f], f"field {f!r}") for f in self.field_names]
            features = _stack_columns(columns, self.field_names)
        else:
            features = _as_ids(request, self.input_name)
            self._check_width(features.shape)
        self._check_ranges(features)
        return features

    def check_fields(self, names: Iterable[str]) -> None:
        """Raise ``ValueError`` naming the fields a named request lacks (extra names are fine)."""
        given = set(names)
        missing = [f for f in self.field_names if f not in given]
        if missing:
            extra = sorted(given - set(self.field_names))
            raise ValueError(
                f"{self.input_name}: missing field(s) {missing}; the model expects "
                f"{list(self.field_names)}" + (f" (unused names given: {extra})" if extra else "")
            )

    def _check_width(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2 or shape[1] != self.num_fields:
            raise ValueError(
                f"{self.input_name}: expected shape (B, {self.num_fields}) with columns "
                f"{list(self.field_names)}, got {shape}"
            )

    def _check_ranges(self, features: np.ndarray | torch.Tensor) -> None:
        """One vectorised comparison per batch; the first offending field is named."""
        if self.vocab_sizes is None:
            return
        ids = features.numpy(force=True) if isinstance(features, torch.Tensor) else features
        sizes = np.asarray(self.vocab_sizes)
        bad = (ids < 0) | (ids >= sizes)
        if not bad.any():
            return
        field = int(bad.any(axis=0).argmax())
        row = int(bad[:, field].argmax())
        raise ValueError(
            f"field {self.field_names[field]!r}: ids must lie in [0, {sizes[field]}), got "
            f"{int(ids[row, field])} in row {row} ({int(bad.sum())} ids out of range in the "
            "batch); encode raw values with the run's vocabulary (unseen values -> OOV id)"
        )


def _as_ids(values: Any, what: str) -> np.ndarray:
    """An array of integer ids as int64 (lossless casts only), else ``ValueError`` naming it."""
    if isinstance(values, torch.Tensor):
        array = values.numpy(force=True)
    elif isinstance(values, pl.Series):
        array = values.to_numpy()  # a column with nulls comes back as float (NaN): refused
    else:
        array = np.asarray(values)
    kind, size = array.dtype.kind, array.dtype.itemsize
    if size <= _LOSSLESS_KINDS.get(kind, 0):
        return array.astype(np.int64, copy=False)
    hint = ""
    if kind in "USO":
        hint = "; raw values must be encoded first (reaction.serving.RequestEncoder)"
    elif kind == "f":
        hint = "; a float id is usually a bug (missing values are id 0, unseen ones id 1)"
    raise ValueError(
        f"{what}: expected integer ids ({INPUT_DTYPE}; int8..int32 and uint8..uint32 are cast), "
        f"got {array.dtype}{hint}"
    )


def _stack_columns(columns: list[np.ndarray], names: Sequence[str]) -> np.ndarray:
    """``F`` columns of ``(B,)`` ids -> ``(B, F)``; names the columns that do not fit the first."""
    first = columns[0].shape
    odd = {
        n: c.shape for n, c in zip(names, columns, strict=True) if c.ndim != 1 or c.shape != first
    }
    if odd or len(first) != 1:
        raise ValueError(
            f"named columns must be 1-D and of one length: {names[0]!r} has shape {first}, "
            f"others differ: {odd}"
        )
    return np.stack(columns, axis=1)
