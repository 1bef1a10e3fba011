"""Frappe as BARS Frappe_x1: CSV with header ``label,user,item,daytime,weekday,isweekend,
homework,cost,weather,country,city`` (libsvm ids, label 0/1, published train/valid/test files);
every field categorical."""

from __future__ import annotations

from reaction.data.formats.table import Label, TableFormat

FIELDS = (
    "user",
    "item",
    "daytime",
    "weekday",
    "isweekend",
    "homework",
    "cost",
    "weather",
    "country",
    "city",
)


def frappe() -> TableFormat:
    return TableFormat(name="frappe", labels=(Label("click", "label"),), categorical=FIELDS)
