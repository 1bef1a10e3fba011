"""Criteo display-advertising data: the Kaggle/1TB TSV files and the BARS Criteo_x1/x4 CSVs.

* ``kaggle`` (also each ``day_<n>`` of Criteo 1TB): TAB-separated, no header, 40 fields
  ``label, I1..I13, C1..C26``; an empty field is missing; ``I*`` are integers (can be negative),
  ``C*`` 8 hex digits. Kaggle's ``test.txt`` has no label and is never read.
* ``x4``: the raw columns as CSV with header ``Label,I1,...,C26``, split into train/valid/test.
* ``x1``: CSV with header ``label,I1,...,C26``; ``I*`` are AFN's normalised floats in [0, 1]
  (use ``numeric_policy: quantile``), ``C*`` libsvm feature indices.
"""

from __future__ import annotations

from typing import Literal

from reaction.data.formats.table import Label, TableFormat

NUMERIC = tuple(f"I{i}" for i in range(1, 14))
CATEGORICAL = tuple(f"C{i}" for i in range(1, 27))
Variant = Literal["kaggle", "x1", "x4"]


def criteo(variant: Variant = "kaggle") -> TableFormat:
    """The Criteo format of ``variant``; the output label is ``click``."""
    if variant == "kaggle":
        return TableFormat(
            name="criteo",
            labels=(Label("click", "label"),),
            numeric=NUMERIC,
            categorical=CATEGORICAL,
            separator="\t",
            header=False,
            columns=("label", *NUMERIC, *CATEGORICAL),
        )
    if variant in ("x1", "x4"):
        source = "label" if variant == "x1" else "Label"
        return TableFormat(
            name=f"criteo_{variant}",
            labels=(Label("click", source),),
            numeric=NUMERIC,
            categorical=CATEGORICAL,
            separator=",",
            header=True,
        )
    raise ValueError(f"criteo variant must be kaggle|x1|x4, got {variant!r}")
