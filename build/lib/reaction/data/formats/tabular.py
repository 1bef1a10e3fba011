"""Any table described by a schema file: CSV/TSV/parquet with named label(s) and fields.

The schema (YAML or JSON) names the roles; unknown keys are an error, so a typo never silently
drops a column::

    format: csv            # csv | tsv | parquet
    header: true           # text files: first line names the columns (default true)
    columns: [a, b, c]     # headerless text files: every column, in file order
    separator: ","         # default "," for csv, TAB for tsv
    quote: '"'             # CSV quoting within a line (default '"' for csv, none for tsv)
    labels: [click]        # one or more 0/1 columns (several labels are kept in order)
    numeric: [price]       # numbers; empty = missing, nan/inf = missing (counted)
    categorical: [user]    # anything; empty = missing
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from reaction.data.formats.table import Label, TableFormat

_KEYS = {"format", "header", "columns", "separator", "quote", "labels", "numeric", "categorical"}
_SEPARATORS = {"csv": ",", "tsv": "\t"}
_QUOTES = {"csv": '"', "tsv": None}


def tabular(schema: str | Path, name: str = "tabular") -> TableFormat:
    """The :class:`TableFormat` a schema file describes."""
    spec = load_schema(Path(schema))
    kind = spec.get("format", "csv")
    if kind not in ("csv", "tsv", "parquet"):
        raise ValueError(f"{schema}: format must be csv|tsv|parquet, got {kind!r}")
    text = kind != "parquet"
    return TableFormat(
        name=name,
        labels=tuple(Label(label, label) for label in _names(spec, "labels", schema)),
        numeric=_names(spec, "numeric", schema),
        categorical=_names(spec, "categorical", schema),
        file_kind="text" if text else "parquet",
        separator=spec.get("separator", _SEPARATORS.get(kind, ",")),
        header=bool(spec.get("header", True)),
        columns=_names(spec, "columns", schema),
        quote=spec.get("quote", _QUOTES.get(kind)),
    )


def load_schema(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"schema file {path} does not exist (data.schema)")
    spec = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a schema is a mapping of {sorted(_KEYS)}")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown schema keys {unknown}; allowed: {sorted(_KEYS)}")
    return spec


def _names(spec: dict[str, Any], key: str, schema: str | Path) -> tuple[str, ...]:
    value = spec.get(key) or []
    if isinstance(value, str) or not all(isinstance(v, str | int) for v in value):
        raise ValueError(f"{schema}: {key} must be a list of column names, got {value!r}")
    return tuple(str(v) for v in value)
