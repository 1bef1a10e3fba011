"""KDD Cup 2012 track 2 ``training.txt``: TAB-separated, no header, 12 fields ``Click,
Impression, DisplayURL, AdID, AdvertiserID, Depth, Position, QueryID, KeywordID, TitleID,
DescriptionID, UserID``. A row aggregates ``Impression`` sessions of which ``Click`` clicked;
the label is ``Click > 0`` per row (one of the two published conventions). ``Click`` and
``Impression`` must be integers with ``0 <= Click <= Impression`` and ``Impression >= 1``, else
the row is bad. The ten id fields are categorical; the side files (query/title tokens, user
profile) are not joined. ``test.txt`` lacks the first two columns and is not read.
"""

from __future__ import annotations

import polars as pl

from reaction.data.formats.table import Check, Label, RowRule, TableFormat

FIELDS = (
    "DisplayURL",
    "AdID",
    "AdvertiserID",
    "Depth",
    "Position",
    "QueryID",
    "KeywordID",
    "TitleID",
    "DescriptionID",
    "UserID",
)
COLUMNS = ("Click", "Impression", *FIELDS)


def _impression_rule() -> RowRule:
    """``Impression`` is an integer >= max(1, Click); no column comes out of it."""
    shown = pl.col("Impression").cast(pl.Int64, strict=False)
    clicked = pl.col("Click").cast(pl.Int64, strict=False)
    bad = shown.is_null() | (shown < 1) | (shown < clicked).fill_null(False)
    message = pl.format(
        "column 'Impression': '{}' is not an integer >= max(1, Click)",
        pl.col("Impression").fill_null("").str.slice(0, 40),
    )
    return RowRule("kdd12_impressions", ("Impression", "Click"), Check("bad_value", bad, message))


def kdd12() -> TableFormat:
    return TableFormat(
        name="kdd12",
        labels=(Label("click", "Click", rule="count"),),
        categorical=FIELDS,
        separator="\t",
        header=False,
        columns=COLUMNS,
        derivations=(_impression_rule(),),
    )
