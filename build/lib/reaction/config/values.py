"""Value predicates the config checks share: one definition of "an int", "a number", "an int
>= low", so every rule reads the same and names the key the same way."""

from __future__ import annotations

from typing import Any


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def int_at_least(key: str, value: Any, low: int) -> list[str]:
    if is_int(value) and value >= low:
        return []
    return [f"{key}={value!r} (allowed: an int >= {low})"]
