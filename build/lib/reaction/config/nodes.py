"""Config nodes -> validated dataclasses, refusing unknown keys and wrong types by name."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """Every problem of a config at once, each as ``key=value`` and what is allowed."""

    def __init__(self, problems: Sequence[str], what: str = "config") -> None:
        self.problems, self.what = list(problems), what
        if len(self.problems) == 1:
            message = f"invalid {what}: {self.problems[0]}"
        else:
            lines = "".join(f"\n  - {p}" for p in self.problems)
            message = f"invalid {what} ({len(self.problems)} problems):{lines}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str], str]]:
        return type(self), (self.problems, self.what)  # survives pickling (launchers, DDP)


def did_you_mean(key: str, allowed: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for a near miss among ``allowed``, else ``""``."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_ok(value: Any, hint: Any) -> bool:
    """``value`` fits ``hint`` (int/float/bool/str, Optional/unions of them; others: unchecked).
    bools are not numbers here: ``num_fields=true`` is a typo, not 1."""
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # Literal, dataclasses, containers: the dataclass's own checks name them


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))


def dataclass_from_node(cls: type[T], node: Mapping[str, Any] | None, group: str) -> T:
    """``cls(**node)``; a key ``cls`` does not define fails with the group, the key and the
    allowed keys (a typo must not silently fall back to a default), a value of the wrong type
    with the key, the value and the type."""
    values = dict(node or {})
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        given = ", ".join(f"{group}.{k}={values[k]!r}{did_you_mean(k, allowed)}" for k in unknown)
        problem = f"unknown {group} key(s) {unknown}: {given}; allowed: {allowed}"
        raise ConfigError([problem], f"{group} config")
    types_ = typing.get_type_hints(cls)
    wrong = [
        f"{group}.{k}={v!r} (allowed: {_type_name(types_[k])})"
        for k, v in values.items()
        if not _type_ok(v, types_[k])
    ]
    if wrong:
        raise ConfigError(wrong, f"{group} config")
    return cls(**values)
