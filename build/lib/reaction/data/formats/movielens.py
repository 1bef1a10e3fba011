"""MovieLens as BARS MovielensLatest_x1: CSV ``label,user_id,item_id,tag_id`` (libsvm ids,
published 7:2:1 train/valid/test files, label 0/1); every field categorical."""

from __future__ import annotations

from reaction.data.formats.table import Label, TableFormat


def movielens() -> TableFormat:
    return TableFormat(
        name="movielens",
        labels=(Label("click", "label"),),
        categorical=("user_id", "item_id", "tag_id"),
    )
