"""Config nodes -> validated dataclasses, refusing unknown keys by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def dataclass_from_node(cls: type[T], node: Mapping[str, Any] | None, group: str) -> T:
    """``cls(**node)``; a key ``cls`` does not define fails with the group, the key and the
    allowed keys (a typo must not silently fall back to a default)."""
    values = dict(node or {})
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {group} key(s) {unknown}; allowed: {allowed}")
    return cls(**values)
