"""The training objective of a multi-tower model: per-tower cross-entropy plus the fusion terms.

``fusion.kind`` picks the paper's variants (REACTION.md, "DTF"): ``none`` (cross-entropy only),
``dtf`` (the three fusion losses between every pair of towers), ``entropy_reg`` (a confidence
penalty, Pereyra et al. 2017), ``kd`` (distillation from a trained teacher), ``reparam`` (our
variant: cross-entropy only, the towers share weights and merge, ``reaction.fusion.reparam``).
Tower ``k``'s loss is::

    CE_k + scale(t) * (1 / (T - 1)) sum_{j != k} [alpha L_srf + beta L_rrf + gamma L_contra](k, j)

and the objective is the sum over towers, so every tower gets the gradient it would get alone plus
one partner's worth of fusion, whatever ``T``. ``scale(t)`` is set by the fusion schedule.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from reaction.fusion.losses import contrastive_fusion, relational_fusion, spatial_fusion
from reaction.fusion.schedules import FusionSchedule
from reaction.fusion.towers import TowerOutputs
from reaction.utils.config import ConfigError, dataclass_from_node

FusionKind = Literal["none", "dtf", "entropy_reg", "kd", "reparam"]
KINDS: tuple[str, ...] = ("none", "dtf", "entropy_reg", "kd", "reparam")
_READ = {  # the keys each kind reads besides kind, towers and parametrization
    "none": (),
    "dtf": ("alpha", "beta", "gamma", "margin", "tau", "schedule"),
    "entropy_reg": ("entropy_weight", "schedule"),
    "kd": ("kd_weight", "kd_temperature", "teacher_run", "schedule"),
    "reparam": ("schedule",),
}


@dataclass(frozen=True)
class FusionConfig:
    """``conf/fusion/*.yaml``; every error names the key, its value and what is allowed."""

    kind: FusionKind = "none"
    towers: int = 1
    alpha: float = 0.0  # spatial fusion weight
    beta: float = 0.0  # relational fusion weight
    gamma: float = 0.0  # instance-contrastive fusion weight
    margin: float = 0.1  # m1 of L_srf
    tau: float = 0.2  # InfoNCE temperature
    entropy_weight: float = 0.0
    kd_weight: float = 0.0
    kd_temperature: float = 1.0
    teacher_run: str | None = None
    parametrization: str = "independent"  # "reparam": ReparamTowers (fusion=reparam)
    schedule: FusionSchedule = field(default_factory=FusionSchedule)

    def __post_init__(self) -> None:
        schedule_problems: list[str] = []
        if isinstance(self.schedule, Mapping):
            try:
                schedule = dataclass_from_node(FusionSchedule, self.schedule, "fusion.schedule")
            except ValueError as error:  # reported with the other problems
                schedule_problems = getattr(error, "problems", [str(error)])
                schedule = FusionSchedule()
            object.__setattr__(self, "schedule", schedule)
        weights = {
            k: getattr(self, k) for k in ("alpha", "beta", "gamma", "entropy_weight", "kd_weight")
        }
        problems = [
            (self.kind not in KINDS, f"fusion.kind={self.kind!r} (allowed: {KINDS})"),
            (not 1 <= self.towers <= 8, f"fusion.towers={self.towers} (allowed: 1..8)"),
            *((v < 0, f"fusion.{k}={v} (allowed: >= 0)") for k, v in weights.items()),
            (self.margin < 0, f"fusion.margin={self.margin} (allowed: >= 0)"),
            (self.tau <= 0, f"fusion.tau={self.tau} (allowed: > 0)"),
            (
                self.kd_temperature <= 0,
                f"fusion.kd_temperature={self.kd_temperature} (allowed: > 0)",
            ),
            (
                (self.kind == "reparam") != (self.parametrization == "reparam"),
                f"fusion.parametrization={self.parametrization!r} with fusion.kind={self.kind!r} "
                "(reparam towers go with kind reparam only)",
            ),
            (
                self.kind == "kd" and not self.teacher_run,
                "fusion=kd needs fusion.teacher_run=<a trained run directory>",
            ),
        ]
        bad = [message for failed, message in problems if failed] + schedule_problems
        if bad:
            raise ConfigError(bad, "fusion config")

    def unread_keys(self) -> dict[str, str]:
        """Keys set away from their default that ``kind`` never reads, and why: a silent no-op
        that looks like an experiment (``fusion=none +fusion.alpha=0.1``)."""
        read = {"kind", "towers", "parametrization", *_READ.get(self.kind, ())}
        default = FusionConfig()
        return {
            f.name: f"fusion.kind={self.kind!r} does not read it"
            for f in fields(self)
            if f.name not in read and getattr(self, f.name) != getattr(default, f.name)
        }


def _pairs(num_towers: int) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(num_towers), 2))


def fusion_config(node: Mapping[str, Any] | None) -> FusionConfig:
    """``FusionConfig`` from the ``fusion`` config node; unknown keys are refused by name."""
    return dataclass_from_node(FusionConfig, node, "fusion")


def is_multi_tower(model: object) -> bool:
    """Whether a net, or a model class, has towers (``num_towers``, e.g. REACTION): what every
    fusion kind but ``none`` trains through. CTRModule asks it of the built net, start-up
    validation (``reaction.utils.validation``) of the configured class."""
    return getattr(model, "num_towers", None) is not None


def single_tower_problem(kind: str, model: object) -> str:
    """The error for a fusion ``kind`` given a model without towers (a net or its class)."""
    name = model.__name__ if isinstance(model, type) else type(model).__name__
    return f"fusion.kind={kind!r} needs a multi-tower model (model=reaction), got {name}"


def serve_problem(serve: object, num_towers: int) -> str | None:
    """Why ``dtf.serve`` cannot pick one of ``num_towers`` towers, or None."""
    index = isinstance(serve, int) and not isinstance(serve, bool)
    if serve == "best" or (index and 0 <= serve < num_towers):
        return None
    return f"dtf.serve={serve!r} (allowed: 'best' or 0..{num_towers - 1})"


class FusionObjective(nn.Module):
    """``(tower outputs, labels[, teacher logits]) -> {term: value}``; ``total`` is optimised.

    ``scale`` (set by the schedule callback) multiplies every fusion weight. The teacher of
    ``kd`` is a frozen module evaluated here, so it follows the model's device.
    """

    def __init__(self, cfg: FusionConfig, teacher: nn.Module | None = None) -> None:
        super().__init__()
        if (cfg.kind == "kd") != (teacher is not None):
            raise ValueError("a teacher net is needed exactly when fusion.kind is 'kd'")
        self.cfg = cfg
        self.scale = 1.0
        self.teacher = teacher.eval().requires_grad_(False) if teacher is not None else None

    def train(self, mode: bool = True) -> FusionObjective:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # dropout/BN of the teacher stay frozen
        return self

    def _pair_terms(self, out: TowerOutputs) -> dict[str, torch.Tensor]:
        """Mean over tower pairs of each fusion loss (spatial: also over hidden layers)."""
        per_pair = [self._pair(out.hidden[i], out.hidden[j]) for i, j in _pairs(out.num_towers)]
        return {name: torch.stack([p[name] for p in per_pair]).mean() for name in per_pair[0]}

    def _pair(self, a: list[torch.Tensor], b: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        layers = zip(a, b, strict=True)
        return {
            "srf": torch.stack([spatial_fusion(x, y, self.cfg.margin) for x, y in layers]).mean(),
            "rrf": relational_fusion(a[-1], b[-1]),
            "contra": contrastive_fusion(a[-1], b[-1], self.cfg.tau),
        }

    def forward(
        self, out: TowerOutputs, labels: torch.Tensor, features: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        ce = torch.stack([F.binary_cross_entropy_with_logits(z, labels) for z in out.logits])
        terms = {f"ce/tower{k}": value for k, value in enumerate(ce)}
        total = ce.sum()
        if self.cfg.kind == "dtf" and out.num_towers > 1:
            total = total + self._dtf(out, terms)
        elif self.cfg.kind == "entropy_reg":
            total = total + self._confidence_penalty(out, terms)
        elif self.cfg.kind == "kd":
            total = total + self._distillation(out, features, terms)
        terms["total"] = total
        return terms

    def _dtf(self, out: TowerOutputs, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        cfg, fused = self.cfg, self._pair_terms(out)
        terms.update(fused)
        # sum over towers of (1 / (T - 1)) sum_{j != k} = 2 / (T - 1) x sum over the T (T - 1) / 2
        # pairs = T x the mean over pairs
        weighted = cfg.alpha * fused["srf"] + cfg.beta * fused["rrf"] + cfg.gamma * fused["contra"]
        return self.scale * out.num_towers * weighted

    def _confidence_penalty(
        self, out: TowerOutputs, terms: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        p = torch.sigmoid(out.logits)
        entropy = F.binary_cross_entropy(p, p, reduction="none").mean(1)  # H(p) per tower
        terms["entropy"] = entropy.mean()
        return -self.scale * self.cfg.entropy_weight * entropy.sum()

    def _distillation(
        self, out: TowerOutputs, features: torch.Tensor, terms: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """``T^2 BCE(z / T, sigmoid(z_teacher / T))`` per tower (Hinton et al., binary form)."""
        temp = self.cfg.kd_temperature
        with torch.no_grad():
            soft = torch.sigmoid(self.teacher(features) / temp)
        kd = torch.stack(
            [temp**2 * F.binary_cross_entropy_with_logits(z / temp, soft) for z in out.logits]
        )
        terms["kd"] = kd.mean()
        return self.scale * self.cfg.kd_weight * kd.sum()
