"""Ali-CCP (Alibaba click and conversion prediction) in torch-rechub's CSV form: header
``click,purchase,101,...,150_14,D109_14,...,D853``; two labels, ``click`` and ``conversion``
(= ``purchase``). Sparse fields are categorical ids (0 = absent/rare in that preparation), the
``D*`` fields MinMax-scaled floats (use ``numeric_policy: quantile``). A purchase without a click
contradicts the data's definition (purchase implies click) and makes the row bad. The raw
``sample_skeleton``/``common_features`` files are converted with torch-rechub's
``preprocess_ali_ccp.py`` first (see docs/DATASETS.md).
"""

from __future__ import annotations

import polars as pl

from reaction.data.formats.table import Check, Label, RowRule, TableFormat

SPARSE = (
    "101",
    "121",
    "122",
    "124",
    "125",
    "126",
    "127",
    "128",
    "129",
    "205",
    "206",
    "207",
    "210",
    "216",
    "508",
    "509",
    "702",
    "853",
    "301",
    "109_14",
    "110_14",
    "127_14",
    "150_14",
)
DENSE = tuple(f"D{f}" for f in ("109_14", "110_14", "127_14", "150_14", "508", "509", "702", "853"))


def _purchase_rule() -> RowRule:
    """A row with ``purchase`` 1 must have ``click`` 1 (each label is checked 0/1 on its own)."""
    click = pl.col("click").cast(pl.Float64, strict=False)
    purchase = pl.col("purchase").cast(pl.Float64, strict=False)
    bad = ((purchase == 1) & (click == 0)).fill_null(False)
    check = Check("bad_value", bad, pl.lit("purchase 1 with click 0"))
    return RowRule("aliccp_purchase_implies_click", ("click", "purchase"), check)


def aliccp() -> TableFormat:
    return TableFormat(
        name="aliccp",
        labels=(Label("click", "click"), Label("conversion", "purchase")),
        numeric=DENSE,
        categorical=SPARSE,
        derivations=(_purchase_rule(),),
    )
