"""Raw feature values -> the served model's ids, as preprocessing encoded the test split.

Serving traffic is encoded with the vocabularies preprocessing fitted on the training split
(``vocab/<field>.parquet`` and ``feature_map.json`` in the run's preprocessing cache), by the same
rules: numeric values are bucketed with the run's rule (``bucket_numeric``), categorical values
are matched by their string form (preprocessing casts them to strings, so ``7`` and ``"7"`` are
one value); then, per field, null/NaN -> ``MISSING_ID`` (0), a value the vocabulary lacks (rare
or unseen in training) -> ``OOV_ID`` (1), else its id. One polars lookup per field and batch, no
per-row Python. The ids it returns always satisfy the run's ``InputContract``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reaction.data.encoding import bucket_numeric, encode_field
from reaction.data.preprocess import FEATURE_MAP, PreprocessedData
from reaction.data.schema import FeatureMap, FieldSpec
from reaction.serving.contract import InputContract


class RequestEncoder:
    """Named raw values (a mapping of columns or a polars DataFrame) -> ``(B, F)`` int64 ids."""

    def __init__(self, feature_map: FeatureMap, vocabs: Mapping[str, pl.DataFrame]) -> None:
        self.feature_map = feature_map
        self.contract = InputContract.for_feature_map(feature_map)
        self.contract.check_fields(vocabs)
        numeric = feature_map.extra.get("numeric", {})
        self.policy = numeric.get("policy", "log_square")
        self.edges = {f: tuple(e) for f, e in numeric.get("quantile_edges", {}).items()}
        self.vocabs = {f: vocabs[f] for f in feature_map.field_names}
        # built once: a lookup holds its vocabulary's hash table, which costs O(vocabulary) to
        # build (~0.1 s for 500k strings), far more than encoding one request
        self._id_exprs = [self._ids(spec.name, spec.kind) for spec in feature_map.fields]

    @classmethod
    def from_preprocessed(cls, data: PreprocessedData) -> RequestEncoder:
        """The vocabularies of a preprocessing cache (a run's: ``run.datamodule.data``)."""
        fields = data.feature_map.field_names
        vocabs = {f: pl.read_parquet(data.vocab_path(f), columns=["value", "id"]) for f in fields}
        return cls(data.feature_map, vocabs)

    @classmethod
    def load(cls, root: str | Path) -> RequestEncoder:
        """From a directory laid out as a preprocessing cache (``feature_map.json``, ``vocab/``)."""
        root = Path(root)
        return cls.from_preprocessed(PreprocessedData(root, FeatureMap.load(root / FEATURE_MAP)))

    def encode(self, request: Mapping[str, Any] | pl.DataFrame) -> np.ndarray:
        """``request``: one ``(B,)`` column of raw values per field (others ignored); ``None``
        (or NaN for a numeric field) is a missing value. A field without a column is an error
        naming it, not a column of missing values: a renamed column must not pass silently."""
        names = request.columns if isinstance(request, pl.DataFrame) else request
        self.contract.check_fields(names)
        columns = [self._raw_column(spec, request[spec.name]) for spec in self.feature_map.fields]
        odd = {c.name: c.len() for c in columns if c.len() != columns[0].len()}
        if odd:
            raise ValueError(
                f"raw columns must be of one length: {columns[0].name!r} has "
                f"{columns[0].len()} values, others differ: {odd}"
            )
        frame = pl.DataFrame(columns)
        ids = frame.select(self._id_exprs)
        features = ids.to_numpy().astype(np.int64, copy=False)
        self.contract.validate(features)  # a stale vocabulary file would show here
        return features

    def _raw_column(self, spec: FieldSpec, values: Any) -> pl.Series:
        """The raw column as preprocessing reads it: numeric Float64, categorical String."""
        dtype = pl.Float64 if spec.kind == "numeric" else pl.String
        try:
            series = values if isinstance(values, pl.Series) else pl.Series(values=values)
            return series.alias(spec.name).cast(dtype)
        except (TypeError, ValueError, pl.exceptions.PolarsError) as error:
            raise ValueError(
                f"field {spec.name!r} ({spec.kind}): cannot read the values as {dtype}: {error}"
            ) from error

    def _ids(self, field: str, kind: str) -> pl.Expr:
        value = pl.col(field)
        if kind == "numeric":
            value = bucket_numeric(value, self.policy, self.edges.get(field, ()))
        return encode_field(value, self.vocabs[field], field, pl.Int64)
