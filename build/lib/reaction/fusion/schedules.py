"""Fusion schedules: the multiplier of ``alpha, beta, gamma`` over training (``conf/fusion/``).

A schedule maps training progress ``t`` in ``[0, 1]`` (optimizer steps done / planned) to a factor
in ``[0, 1]`` on every fusion weight; the callback ``FusionScheduleCallback`` applies and logs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ScheduleName = Literal["constant", "linear_warmup", "cosine", "step"]
SCHEDULES: tuple[str, ...] = ("constant", "linear_warmup", "cosine", "step")


@dataclass(frozen=True)
class FusionSchedule:
    """``constant``: 1. ``linear_warmup``: 0 -> 1 linearly over ``[start, end]``, then 1.
    ``cosine``: the same ramp on a half cosine (smooth at both ends). ``step``: 1 inside
    ``[start, end)``, 0 outside (fusion for a window of training only)."""

    name: ScheduleName = "constant"
    start: float = 0.0
    end: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"fusion.schedule.name={self.name!r} (allowed: {SCHEDULES})")
        if not 0.0 <= self.start < self.end <= 1.0:
            raise ValueError(
                "fusion.schedule: need 0 <= start < end <= 1, "
                f"got start={self.start}, end={self.end}"
            )

    def __call__(self, progress: float) -> float:
        t = min(max(progress, 0.0), 1.0)
        ramp = min(max((t - self.start) / (self.end - self.start), 0.0), 1.0)
        if self.name == "constant":
            return 1.0
        if self.name == "linear_warmup":
            return ramp
        if self.name == "cosine":
            return 0.5 * (1.0 - math.cos(math.pi * ramp))
        return 1.0 if self.start <= t < self.end else 0.0
