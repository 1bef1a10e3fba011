"""The declarative description of a raw table: file syntax and the role of every column.

A dataset module (``criteo``, ``avazu``, ...) only builds a :class:`TableFormat`; parsing,
validation, splitting and caching are shared, so a new public format is a few lines of data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import polars as pl

LabelRule = Literal["binary", "count"]
FileKind = Literal["text", "parquet"]


@dataclass(frozen=True, eq=False)
class Check:
    """A row is bad (``kind``, explained by ``message``) where ``bad`` is true.

    Expressions see the raw columns of one chunk: strings for text files (``""`` still empty),
    the stored dtypes for parquet.
    """

    kind: str
    bad: pl.Expr
    message: pl.Expr


class Derivation(Protocol):
    """Columns computed from raw columns (Avazu's ``hour`` -> hour of day, weekday), with the
    checks that make a malformed source value a bad row instead of a silent wrong value."""

    @property
    def sources(self) -> tuple[str, ...]: ...

    @property
    def outputs(self) -> tuple[str, ...]: ...

    def exprs(self) -> list[pl.Expr]: ...

    def checks(self) -> list[Check]: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Label:
    """Output label ``name`` read from raw column ``source``.

    ``binary``: the value must be 0 or 1. ``count``: a non-negative integer (KDD12's ``Click``),
    label = count > 0.
    """

    name: str
    source: str
    rule: LabelRule = "binary"

    def __post_init__(self) -> None:
        if self.rule not in ("binary", "count"):
            raise ValueError(f"label {self.name!r}: rule must be binary|count, got {self.rule!r}")


@dataclass(frozen=True)
class TableFormat:
    """How one dataset's files are read and which output column plays which role.

    ``numeric`` and ``categorical`` name *output* columns: a raw column of that name, or one a
    derivation produces. Text files: ``separator`` splits a physical line into fields (``quote``
    enables CSV quoting within one line); headerless files name every column in ``columns``,
    files with a header must contain every column the format reads (extra columns are ignored).
    """

    name: str
    labels: tuple[Label, ...]
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    file_kind: FileKind = "text"
    separator: str = ","
    header: bool = True
    columns: tuple[str, ...] = ()
    quote: str | None = None
    derivations: tuple[Derivation, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("labels", "numeric", "categorical", "columns", "derivations"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.file_kind not in ("text", "parquet"):
            raise ValueError(f"{self.name}: file_kind must be text|parquet: {self.file_kind!r}")
        if len(self.separator) != 1 or self.separator in "\r\n":
            raise ValueError(f"{self.name}: separator must be one character: {self.separator!r}")
        if self.quote is not None and (len(self.quote) != 1 or self.quote == self.separator):
            raise ValueError(f"{self.name}: bad quote character {self.quote!r}")
        if not self.labels or not self.numeric + self.categorical:
            raise ValueError(f"{self.name}: need >= 1 label and >= 1 feature")
        outputs = self.outputs
        if len(set(outputs)) != len(outputs):
            raise ValueError(f"{self.name}: an output column has two roles: {outputs}")
        if self.file_kind == "text" and not self.header:
            missing = [c for c in self.required_columns if c not in self.columns]
            if missing:
                raise ValueError(f"{self.name}: headerless format lacks columns {missing}")

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Columns of the ingested parquet: labels, then numeric, then categorical."""
        return self.label_names + self.numeric + self.categorical

    @property
    def derived(self) -> tuple[str, ...]:
        return tuple(name for d in self.derivations for name in d.outputs)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Raw columns the format reads, in first-use order."""
        derived = set(self.derived)
        names = [label.source for label in self.labels]
        names += [s for d in self.derivations for s in d.sources]
        names += [c for c in self.numeric + self.categorical if c not in derived]
        return tuple(dict.fromkeys(names))

    def describe(self) -> dict[str, Any]:
        """Everything that changes the parsed output (part of the ingest fingerprint)."""
        return {
            "name": self.name,
            "labels": [(x.name, x.source, x.rule) for x in self.labels],
            "numeric": self.numeric,
            "categorical": self.categorical,
            "file_kind": self.file_kind,
            "separator": self.separator,
            "header": self.header,
            "columns": self.columns,
            "quote": self.quote,
            "derivations": [d.describe() for d in self.derivations],
        }


@dataclass(frozen=True, eq=False)
class RowRule:
    """A check-only derivation: a cross-column rule (KDD12's ``Click <= Impression``) whose
    violation makes a row bad. ``name`` identifies the rule in the ingest fingerprint."""

    name: str
    sources: tuple[str, ...]
    check: Check
    outputs: tuple[str, ...] = ()

    def exprs(self) -> list[pl.Expr]:
        return []

    def checks(self) -> list[Check]:
        return [self.check]

    def describe(self) -> dict[str, Any]:
        return {"rule": self.name}
