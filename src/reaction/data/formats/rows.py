"""One chunk of raw rows -> typed output columns + bad rows, vectorised in polars.

Two stages, both shared by every format:

* :func:`split_lines` (text files): a line becomes its fields; a line that is not valid UTF-8, is
  empty, has an unbalanced quote or the wrong number of fields is a bad row;
* :func:`typed_rows`: raw columns become the output columns of the :class:`TableFormat` (labels
  Float32, numeric Float64, categorical String; an empty string is missing). A label that is not
  0/1 (or a non-negative count), a numeric field that is not a number and any failed derivation
  check make the row bad; the first failing check names it. ``nan``/``inf`` in a numeric field
  parse as numbers and stay in the row (the feature map maps them to the missing id).
"""

from __future__ import annotations

import csv

import polars as pl

from reaction.data.formats.bad_rows import BAD_SCHEMA
from reaction.data.formats.lines import LINE, TEXT
from reaction.data.formats.table import Check, Label, TableFormat

_FIELDS = "_fields"
_FAILED = "_failed"
_PARSED = "_parsed_"  # prefix of a numeric column's parsed Float64 copy
_PREVIEW = 40  # characters of an offending value quoted in a message


def split_lines(
    lines: pl.DataFrame, fmt: TableFormat, names: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(line, text)`` -> (``line`` + one String column per column the format reads, bad rows).

    ``names`` are the file's columns in order (its header, or ``fmt.columns``).
    """
    frame = _with_fields(lines, fmt.separator, fmt.quote)
    n = pl.col(_FIELDS).list.len()
    kind = (
        pl.when(pl.col(TEXT).is_null())
        .then(pl.lit("invalid_utf8"))
        .when(pl.col(TEXT).str.len_bytes() == 0)
        .then(pl.lit("empty_line"))
        .when(pl.col(_FIELDS).is_null())
        .then(pl.lit("unbalanced_quote"))
        .when(n != len(names))
        .then(pl.lit("field_count"))
    )
    frame = frame.with_columns(kind.alias("kind"))
    message = (
        pl.when(pl.col("kind") == "invalid_utf8")
        .then(pl.lit("invalid UTF-8"))
        .when(pl.col("kind") == "empty_line")
        .then(pl.lit("empty line"))
        .when(pl.col("kind") == "unbalanced_quote")
        .then(pl.lit("unbalanced quote"))
        .otherwise(pl.format("{} fields, expected {}", n, pl.lit(len(names))))
    )
    bad = frame.filter(pl.col("kind").is_not_null()).select(LINE, "kind", message.alias("message"))
    index = {name: i for i, name in enumerate(names)}
    good = frame.filter(pl.col("kind").is_null()).select(
        LINE, *(pl.col(_FIELDS).list.get(index[c]).alias(c) for c in fmt.required_columns)
    )
    return good, bad


def typed_rows(raw: pl.DataFrame, fmt: TableFormat) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``line`` + raw columns -> (``line`` + ``fmt.outputs`` typed, bad rows).

    Numeric strings are parsed once (the check and the output read the same parsed column), and
    no column is rewritten or filtered where nothing changes: each would copy every string.
    """
    strings = [c for c, dtype in raw.schema.items() if dtype == pl.String and c != LINE]
    frame = raw.with_columns(_blank_to_null(c) for c in _with_blanks(raw, strings))
    parsed = _parsed_numerics(fmt, set(strings))
    frame = frame.with_columns(
        pl.col(c).cast(pl.Float64, strict=False).alias(p) for c, p in parsed.items()
    )
    checks = _checks(fmt, parsed)
    failed: pl.Expr = pl.lit(None, dtype=pl.Int32)
    if checks:
        chain = pl.when(checks[0].bad.fill_null(True)).then(pl.lit(0, dtype=pl.Int32))
        for i, check in enumerate(checks[1:], start=1):
            chain = chain.when(check.bad.fill_null(True)).then(pl.lit(i, dtype=pl.Int32))
        failed = chain
    frame = frame.with_columns(failed.alias(_FAILED))
    bad = frame.filter(pl.col(_FAILED).is_not_null())
    good = frame
    if not bad.is_empty():
        bad = bad.select(LINE, *_explained(checks))
        good = frame.filter(pl.col(_FAILED).is_null())
    else:
        bad = pl.DataFrame(schema=BAD_SCHEMA)
    good = good.with_columns(e for d in fmt.derivations for e in d.exprs())
    return good.select(LINE, *_output_exprs(fmt, parsed)), bad


def _explained(checks: list[Check]) -> tuple[pl.Expr, pl.Expr]:
    """``kind`` and ``message`` of each bad row's first failing check."""
    kinds = pl.lit(None, dtype=pl.String)
    messages = pl.lit(None, dtype=pl.String)
    for i, check in reversed(list(enumerate(checks))):
        hit = pl.col(_FAILED) == i
        kinds = pl.when(hit).then(pl.lit(check.kind)).otherwise(kinds)
        messages = pl.when(hit).then(check.message).otherwise(messages)
    return kinds.alias("kind"), messages.alias("message")


def _parsed_numerics(fmt: TableFormat, strings: set[str]) -> dict[str, str]:
    """Raw numeric String columns -> the name of their parsed Float64 column."""
    derived = set(fmt.derived)
    return {c: f"{_PARSED}{c}" for c in fmt.numeric if c in strings and c not in derived}


def empty_output(fmt: TableFormat) -> pl.DataFrame:
    """Zero rows with the output schema (what a split without rows is written as)."""
    schema = {c: pl.Float32 for c in fmt.label_names}
    schema |= {c: pl.Float64 for c in fmt.numeric} | {c: pl.String for c in fmt.categorical}
    return pl.DataFrame(schema=schema)


def _with_fields(lines: pl.DataFrame, separator: str, quote: str | None) -> pl.DataFrame:
    """Add ``_fields`` (List[String]); quoted lines go through ``csv`` (null when unbalanced)."""
    split = pl.col(TEXT).str.split(separator, literal=True).alias(_FIELDS)
    if quote is None:
        return lines.with_columns(split)
    quoted = pl.col(TEXT).str.contains(quote, literal=True).fill_null(False)
    plain = lines.filter(~quoted).with_columns(split)
    special = lines.filter(quoted)
    if special.is_empty():
        return plain
    parsed = [_csv_fields(t, separator, quote) for t in special[TEXT].to_list()]
    special = special.with_columns(pl.Series(_FIELDS, parsed, dtype=pl.List(pl.String)))
    return pl.concat([plain, special]).sort(LINE)


def _csv_fields(text: str, separator: str, quote: str) -> list[str] | None:
    try:
        return next(csv.reader([text], delimiter=separator, quotechar=quote, strict=True))
    except csv.Error:
        return None


def _with_blanks(raw: pl.DataFrame, strings: list[str]) -> list[str]:
    """The String columns holding an empty string (the CSV reader already made them null)."""
    if not strings:
        return []
    blanks = raw.select((pl.col(c).str.len_bytes() == 0).any() for c in strings).row(0)
    return [c for c, blank in zip(strings, blanks, strict=True) if blank]


def _blank_to_null(column: str) -> pl.Expr:
    return pl.when(pl.col(column).str.len_bytes() > 0).then(pl.col(column)).alias(column)


def _preview(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.slice(0, _PREVIEW)


def _checks(fmt: TableFormat, parsed: dict[str, str]) -> list[Check]:
    """Every check of a row, in the order that names its first problem."""
    checks = [_label_check(label) for label in fmt.labels]
    checks += [c for d in fmt.derivations for c in d.checks()]
    for column, number in parsed.items():
        checks.append(
            Check(
                "not_a_number",
                pl.col(column).is_not_null() & pl.col(number).is_null(),
                pl.format("column '{}': '{}' is not a number", pl.lit(column), _preview(column)),
            )
        )
    return checks


def _label_value(label: Label) -> pl.Expr:
    if label.rule == "count":
        return pl.col(label.source).cast(pl.Int64, strict=False)
    return pl.col(label.source).cast(pl.Float64, strict=False)


def _label_check(label: Label) -> Check:
    value = _label_value(label)
    if label.rule == "count":
        bad, expected = value.is_null() | (value < 0), "a non-negative integer"
    else:
        bad, expected = value.is_null() | ~value.is_in([0.0, 1.0]), "0 or 1"
    message = (
        pl.when(pl.col(label.source).is_null())
        .then(pl.lit(f"label column '{label.source}' is empty"))
        .otherwise(
            pl.format(
                "label column '{}': '{}' is not {}",
                pl.lit(label.source),
                _preview(label.source),
                pl.lit(expected),
            )
        )
    )
    return Check("bad_label", bad, message)


def _output_exprs(fmt: TableFormat, parsed: dict[str, str]) -> list[pl.Expr]:
    exprs = []
    for label in fmt.labels:
        value = _label_value(label)
        value = value > 0 if label.rule == "count" else value
        exprs.append(value.cast(pl.Float32).alias(label.name))
    exprs += [pl.col(parsed.get(c, c)).cast(pl.Float64, strict=False).alias(c) for c in fmt.numeric]
    exprs += [pl.col(c).cast(pl.String) for c in fmt.categorical]
    return exprs
