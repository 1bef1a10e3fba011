"""The fusion group's config (``conf/fusion/``): which objective trains the towers, how many
towers there are and which one is served. The one place these rules are checked; the model
(``model.net.num_towers``, ``serve``) reads its values from here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf

from reaction.config import ConfigError, dataclass_from_node
from reaction.config.structure import model_towers
from reaction.config.values import int_at_least
from reaction.fusion.schedules import FusionSchedule
from reaction.models.layers.towers import serve_problem, tower_count_problem

FusionKind = Literal["none", "dtf", "entropy_reg", "kd", "eckd", "bkd", "reparam"]
KINDS: tuple[str, ...] = ("none", "dtf", "entropy_reg", "kd", "eckd", "bkd", "reparam")
# the kinds that learn from trained teachers (``reaction.fusion.distillation``)
DISTILL_KINDS: tuple[str, ...] = ("kd", "eckd", "bkd")
KD_LOSSES: tuple[str, ...] = ("bce", "mse")
_TEACHER_KEYS = ("teacher_run", "teacher_model", "kd_weight", "kd_temperature", "ce_weight")
_READ = {  # the keys each kind reads besides kind, towers and parametrization
    "none": (),
    "dtf": (
        "alpha",
        "beta",
        "gamma",
        "margin",
        "tau",
        "contra_negatives",
        "pairs_per_step",
        "ensemble_kd",
        "schedule",
    ),
    "entropy_reg": ("entropy_weight", "schedule"),
    "kd": (*_TEACHER_KEYS, "kd_loss", "schedule"),
    "eckd": (*_TEACHER_KEYS, "kd_loss", "gate_dim", "schedule"),
    "bkd": (*_TEACHER_KEYS, "bridge_dim", "bridge_layers", "hint_weight", "schedule"),
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
    contra_negatives: int | None = None  # InfoNCE negatives per sample: blocks of n rows (None: B)
    pairs_per_step: int | None = None  # tower pairs fused per step, drawn at random (None: all)
    ensemble_kd: float = 0.0  # each tower's BCE towards the towers' (detached) mean prediction
    entropy_weight: float = 0.0
    kd_weight: float = 0.0
    kd_temperature: float = 1.0
    teacher_run: str | list[str] | None = None  # finished run directories that teach
    teacher_model: str | list[str] | None = None  # model names trained first, in this run
    kd_loss: str = "bce"  # "bce": Hinton's soft labels; "mse": logit matching (KD-DAGFM)
    ce_weight: float = 1.0  # the label loss's weight under distillation (KD-DAGFM's alpha)
    gate_dim: int = 4  # eckd: embedding size of the teacher gate's own field embedding
    bridge_dim: int = 8  # bkd: embedding size of the GNN bridge
    bridge_layers: int = 2  # bkd: message-passing steps of the bridge
    hint_weight: float = 0.1  # bkd: the student's hidden state towards the bridge's nodes
    serve: str | int = "best"  # the tower with the best val AUC, or a fixed index
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
        bad = [problem for problem in self._problems() if problem] + schedule_problems
        if bad:
            raise ConfigError(bad, "fusion config")

    def _problems(self) -> list[str | None]:
        weights = (
            *("alpha", "beta", "gamma", "ensemble_kd", "entropy_weight", "kd_weight"),
            *("ce_weight", "hint_weight"),
        )
        towers = tower_count_problem(self.towers)
        return [
            None if self.kind in KINDS else f"fusion.kind={self.kind!r} (allowed: {KINDS})",
            towers or serve_problem(self.serve, self.towers),
            *(
                f"fusion.{k}={getattr(self, k)} (allowed: >= 0)"
                for k in weights
                if getattr(self, k) < 0
            ),
            f"fusion.margin={self.margin} (allowed: >= 0)" if self.margin < 0 else None,
            f"fusion.tau={self.tau} (allowed: > 0)" if self.tau <= 0 else None,
            *(
                f"fusion.{key}={value!r} (allowed: an int >= {low} or null)"
                for key, value, low in (
                    ("contra_negatives", self.contra_negatives, 2),
                    ("pairs_per_step", self.pairs_per_step, 1),
                )
                if value is not None and int_at_least(key, value, low)
            ),
            f"fusion.kd_temperature={self.kd_temperature} (allowed: > 0)"
            if self.kd_temperature <= 0
            else None,
            f"fusion.parametrization={self.parametrization!r} with fusion.kind={self.kind!r} "
            "(reparam towers go with kind reparam only)"
            if (self.kind == "reparam") != (self.parametrization == "reparam")
            else None,
            *self._teacher_problems(),
        ]

    def _teacher_problems(self) -> list[str | None]:
        """Distillation kinds need teachers (run directories or models trained first); ECKD's
        gate needs something to choose between; the towers stay one (the student)."""
        if self.kind not in DISTILL_KINDS:
            return []
        teachers = len(self.teacher_runs) + len(self.teacher_models)
        return [
            f"fusion={self.kind} needs fusion.teacher_run=<a trained run directory> or "
            "fusion.teacher_model=<a model name> (a list for several teachers)"
            if teachers == 0
            else None,
            f"fusion=eckd gates between teachers, got {teachers} (allowed: >= 2)"
            if self.kind == "eckd" and teachers == 1
            else None,
            f"fusion.kd_loss={self.kd_loss!r} (allowed: {KD_LOSSES})"
            if self.kd_loss not in KD_LOSSES
            else None,
            *(
                f"fusion.{key}={value!r} (allowed: an int >= 1)"
                for key, value in (
                    ("gate_dim", self.gate_dim),
                    ("bridge_dim", self.bridge_dim),
                    ("bridge_layers", self.bridge_layers),
                )
                if int_at_least(key, value, 1)
            ),
            f"fusion={self.kind} trains one student: fusion.towers={self.towers} (allowed: 1)"
            if self.towers != 1
            else None,
        ]

    @property
    def teacher_runs(self) -> tuple[str, ...]:
        """``teacher_run`` as a tuple (one directory or a list of them)."""
        return as_names(self.teacher_run)

    @property
    def teacher_models(self) -> tuple[str, ...]:
        """``teacher_model`` as a tuple: the models trained first, in this run."""
        return as_names(self.teacher_model)

    def unread_keys(self) -> dict[str, str]:
        """Keys set away from their default that ``kind`` never reads, and why: a silent no-op
        that looks like an experiment (``fusion=none +fusion.alpha=0.1``)."""
        read = {"kind", "towers", "serve", "parametrization", *_READ.get(self.kind, ())}
        default = FusionConfig()
        return {
            f.name: f"fusion.kind={self.kind!r} does not read it"
            for f in fields(self)
            if f.name not in read and getattr(self, f.name) != getattr(default, f.name)
        }


def as_names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A key that takes one name or a list of them (``teacher_run``, ``teacher_model``)."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def fusion_config(node: Mapping[str, Any] | None) -> FusionConfig:
    """``FusionConfig`` from the ``fusion`` config node; unknown keys are refused by name."""
    return dataclass_from_node(FusionConfig, node, "fusion")


def tower_mismatch_problem(towers: int, model_towers: int, model: str) -> str | None:
    """Why a model with ``model_towers`` towers cannot train under ``fusion.towers=towers``."""
    if towers == model_towers:
        return None
    return (
        f"fusion.towers={towers} but {model} has {model_towers} tower(s) "
        "(several towers: model=reaction; single-tower models take fusion.towers=1, e.g. "
        "fusion=none, entropy_reg or kd)"
    )


def fusion_problems(cfg: DictConfig) -> list[str]:
    """The ``fusion`` group at start-up: keys its kind never reads, and a tower count the model
    does not have (a ``kd`` teacher's run directory: ``reaction.runs.teacher``)."""
    node = cfg.get("fusion")
    fusion = fusion_config(OmegaConf.to_container(node, resolve=True) if node else None)
    problems = [
        f"fusion.{k}={getattr(fusion, k)!r}: has no effect ({why})"
        for k, why in fusion.unread_keys().items()
    ]
    towers = model_towers(cfg)
    if problem := tower_mismatch_problem(fusion.towers, towers, f"model={cfg.model.name}"):
        problems.append(problem)
    return problems
