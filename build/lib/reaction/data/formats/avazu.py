"""Avazu mobile-ads CTR data: the Kaggle ``train`` CSV, BARS Avazu_x4 and Avazu_x1.

* ``kaggle`` / ``x4`` (same columns; x4 is split into train/valid/test): CSV with header
  ``id,click,hour,C1,banner_pos,...,C21``. As BARS Avazu_x4_001 (FuxiCTR v1.1.0): ``id`` is
  dropped; ``hour`` (``YYMMDDHH``) becomes the hour of day, plus ``weekday`` (``%w``: Sunday 0)
  and ``weekend`` (Saturday/Sunday 1); every field categorical: 24 fields (23 with
  ``weekend=False``). An ``hour`` that is not a valid ``YYMMDDHH`` makes the row bad.
* ``x1``: CSV ``label,feat_1,...,feat_22`` of AFN libsvm ids, every field categorical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from reaction.data.formats.table import Check, Label, TableFormat

RAW_FIELDS = (
    "C1",
    "banner_pos",
    "site_id",
    "site_domain",
    "site_category",
    "app_id",
    "app_domain",
    "app_category",
    "device_id",
    "device_ip",
    "device_model",
    "device_type",
    "device_conn_type",
    *(f"C{i}" for i in range(14, 22)),
)
Variant = Literal["kaggle", "x4", "x1"]


@dataclass(frozen=True)
class HourExpansion:
    """``YYMMDDHH`` -> ``hour`` (0..23), ``weekday`` (0 = Sunday) and optionally ``weekend``."""

    source: str = "hour"
    weekend: bool = True

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,)

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("hour", "weekday", "weekend") if self.weekend else ("hour", "weekday")

    def _date(self) -> pl.Expr:
        return pl.col(self.source).str.slice(0, 6).str.strptime(pl.Date, "%y%m%d", strict=False)

    def _hour(self) -> pl.Expr:
        return pl.col(self.source).str.slice(6, 2).cast(pl.Int32, strict=False)

    def exprs(self) -> list[pl.Expr]:
        weekday = self._date().dt.weekday()  # Monday 1 .. Sunday 7
        exprs = [
            self._hour().cast(pl.String).alias("hour"),
            (weekday % 7).cast(pl.String).alias("weekday"),
        ]
        if self.weekend:
            exprs.append((weekday >= 6).cast(pl.Int8).cast(pl.String).alias("weekend"))
        return exprs

    def checks(self) -> list[Check]:
        raw = pl.col(self.source)
        bad = (
            ~raw.str.contains(r"^[0-9]{8}$").fill_null(False)
            | self._date().is_null()
            | (self._hour() > 23)
        )
        message = pl.format(
            "column '{}': '{}' is not YYMMDDHH",
            pl.lit(self.source),
            raw.fill_null("").str.slice(0, 40),
        )
        return [Check("bad_value", bad, message)]

    def describe(self) -> dict[str, Any]:
        return {"derivation": "avazu_hour", "source": self.source, "weekend": self.weekend}


def avazu(variant: Variant = "kaggle", weekend: bool = True) -> TableFormat:
    """The Avazu format of ``variant``; the output label is ``click``."""
    if variant in ("kaggle", "x4"):
        expansion = HourExpansion(weekend=weekend)
        return TableFormat(
            name="avazu" if variant == "kaggle" else "avazu_x4",
            labels=(Label("click", "click"),),
            categorical=(*RAW_FIELDS, *expansion.outputs),
            derivations=(expansion,),
        )
    if variant == "x1":
        return TableFormat(
            name="avazu_x1",
            labels=(Label("click", "label"),),
            categorical=tuple(f"feat_{i}" for i in range(1, 23)),
        )
    raise ValueError(f"avazu variant must be kaggle|x4|x1, got {variant!r}")
