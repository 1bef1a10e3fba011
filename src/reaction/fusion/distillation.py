"""Distillation from trained teachers: the ``kd``, ``eckd`` and ``bkd`` fusion kinds.

All three train one student (the served model, e.g. REACTION's tower) with its cross-entropy
plus a term that pulls it towards a *teacher signal*; they differ in where that signal comes from:

- ``kd`` (Hinton et al. 2015; with ``kd_loss=mse`` the logit matching of KD-DAGFM, Tian et al.,
  WSDM 2023): the teachers' mean logit (one teacher: its logit).
- ``eckd`` (Zhu et al., "Ensembled CTR Prediction via Knowledge Distillation", CIKM 2020): a
  learned gate weights the teachers per sample (``TeacherGate``, softmax over teachers); the gate
  is fitted to the labels through the gated ensemble's own cross-entropy, the student follows the
  gated ensemble (held fixed for the step).
- ``bkd`` (Bridge-based KD, SIGIR 2023; our reading of its abstract, see the README): a GNN
  *bridge* (``FieldGraph`` over its own field embeddings) learns from the teacher, and the student
  learns from the bridge in two decoupled parts -- its prediction (soft labels) and its
  representation (the in-batch sample geometry of the bridge's node states, width-free).

Teachers are frozen and always in eval mode; the gate and the bridge are training-only modules
(they are never served, so the served size is the student's alone). Gradients: the distillation
terms reach the student only (targets detached); the gate's and the bridge's own losses reach
the gate and the bridge only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reaction.fusion.config import FusionConfig
from reaction.models.base import ModelOutput
from reaction.models.layers.embedding import FieldEmbedding
from reaction.models.layers.graph import AttentionalScoring, FieldGraph

NORM_EPS = 1e-8


def soft_label_loss(
    student: torch.Tensor, teacher: torch.Tensor, kind: str, temperature: float = 1.0
) -> torch.Tensor:
    """Distillation loss of ``(B,)`` student logits towards ``(B,)`` teacher logits.

    ``bce``: ``T^2 BCE(z / T, sigmoid(z_t / T))``, the binary form of Hinton's soft labels (the
    ``T^2`` keeps the gradient's scale as ``T`` changes). ``mse``: ``mean (z - z_t)^2``, logit
    matching as KD-DAGFM's official code (which reports it distils more than soft labels).
    """
    teacher = teacher.detach()
    if kind == "mse":
        return F.mse_loss(student, teacher)
    soft = torch.sigmoid(teacher / temperature)
    return temperature**2 * F.binary_cross_entropy_with_logits(student / temperature, soft)


def relation_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``mean (R_a - R_b)^2`` of the in-batch cosine matrices of ``(B, H_a)`` and ``(B, H_b)``.

    Compares which samples two networks find alike, so the widths may differ (no projection to
    learn). Gram form as ``reaction.fusion.losses.relational_fusion``:
    ``||A A^T - B B^T||_F^2 = ||A^T A||^2 + ||B^T B||^2 - 2 ||A^T B||^2``, ``O(B H^2)``.
    """
    a = F.normalize(a.float(), dim=-1, eps=NORM_EPS)
    b = F.normalize(b.float(), dim=-1, eps=NORM_EPS)
    gap = (a.T @ a).square().sum() + (b.T @ b).square().sum() - 2 * (a.T @ b).square().sum()
    return gap / a.shape[0] ** 2


class FrozenTeachers(nn.Module):
    """``(B, F) -> (K, B)`` logits of ``K`` trained nets: frozen and always in eval mode (their
    dropout / batch norm must not move while the student trains)."""

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        if not nets:
            raise ValueError("distillation needs at least one teacher net, got 0")
        self.nets = nn.ModuleList(net.eval().requires_grad_(False) for net in nets)

    def __len__(self) -> int:
        return len(self.nets)

    def train(self, mode: bool = True) -> FrozenTeachers:
        return super().train(False)

    @torch.no_grad()
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(features) for net in self.nets])


class TeacherGate(nn.Module):
    """ECKD's teacher gating: ``(B, F) ids -> (B, K)`` weights, each row a softmax over teachers.

    Reads the sample through its own small field embedding (``gate_dim`` per field), so the gate
    needs nothing from the student and adds nothing to what is served.
    """

    def __init__(self, vocab_sizes: Sequence[int], num_teachers: int, gate_dim: int = 4) -> None:
        super().__init__()
        self.embedding = FieldEmbedding(vocab_sizes, gate_dim, init_std=1e-2)
        self.score = nn.Linear(len(vocab_sizes) * gate_dim, num_teachers)
        nn.init.zeros_(self.score.weight)  # starts as the plain average of the teachers
        nn.init.zeros_(self.score.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.score(self.embedding(features).flatten(start_dim=1)), dim=-1)


class GraphBridge(nn.Module):
    """BKD's bridge: ``(B, F) -> ((B,) logits, (B, F * D) node states)``, a FiGNN-style GNN.

    A graph network sits between a deep teacher and a plain student in capacity: its attentional
    edges pick the field pairs that interact (the knowledge the bridge is meant to expose).
    """

    def __init__(self, vocab_sizes: Sequence[int], dim: int = 8, layers: int = 2) -> None:
        super().__init__()
        fields = len(vocab_sizes)
        self.embedding = FieldEmbedding(vocab_sizes, dim, init_std=1e-2)
        self.graph = FieldGraph(fields, dim, num_layers=layers)
        self.head = AttentionalScoring(fields, dim)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nodes = self.graph(self.embedding(features))
        return self.head(nodes), nodes.flatten(start_dim=1)


class Distiller(nn.Module):
    """``(student output, labels, ids) -> (student loss, own loss)``, terms logged in place.

    The student loss (weighted here, scheduled by the objective) trains the student; the own
    loss (unscheduled) trains the distiller's learned parts (gate, bridge), if any.
    """

    def __init__(self, cfg: FusionConfig, teachers: FrozenTeachers) -> None:
        super().__init__()
        self.cfg = cfg
        self.teachers = teachers

    def target(
        self, features: torch.Tensor, labels: torch.Tensor, terms: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B,)`` teacher logits for the student and the distiller's own loss."""
        return self.teachers(features).mean(dim=0), labels.new_zeros(())

    def _student_terms(self, out: ModelOutput, target: torch.Tensor) -> torch.Tensor:
        """Sum over the student's towers (one, checked by the config) of the soft-label loss."""
        cfg = self.cfg
        per_tower = [
            soft_label_loss(z, target, cfg.kd_loss, cfg.kd_temperature) for z in out.logits
        ]
        return torch.stack(per_tower).sum()

    def forward(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        features: torch.Tensor,
        terms: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        target, own = self.target(features, labels, terms)
        kd = self._student_terms(out, target)
        terms["kd"] = kd
        return self.cfg.kd_weight * kd, own


class GatedEnsembleDistiller(Distiller):
    """ECKD: the student follows ``sum_k g_k(x) z_k(x)``; the gate minimises that ensemble's
    cross-entropy, so it learns which teacher to trust for which sample."""

    def __init__(
        self, cfg: FusionConfig, teachers: FrozenTeachers, vocab_sizes: Sequence[int]
    ) -> None:
        super().__init__(cfg, teachers)
        self.gate = TeacherGate(vocab_sizes, len(teachers), cfg.gate_dim)

    def target(
        self, features: torch.Tensor, labels: torch.Tensor, terms: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.teachers(features)  # (K, B), no gradient
        weights = self.gate(features)  # (B, K)
        ensemble = (weights * logits.T).sum(dim=1)
        own = F.binary_cross_entropy_with_logits(ensemble, labels)
        terms["gate_ce"] = own
        terms["gate_entropy"] = -(weights * weights.clamp_min(NORM_EPS).log()).sum(1).mean()
        return ensemble.detach(), own


class BridgeDistiller(Distiller):
    """BKD: teacher -> bridge (soft labels) -> student (soft labels + sample geometry)."""

    def __init__(
        self, cfg: FusionConfig, teachers: FrozenTeachers, vocab_sizes: Sequence[int]
    ) -> None:
        super().__init__(cfg, teachers)
        self.bridge = GraphBridge(vocab_sizes, cfg.bridge_dim, cfg.bridge_layers)

    def forward(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        features: torch.Tensor,
        terms: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        if out.hidden is None:
            raise ValueError("fusion=bkd needs the student's hidden states (a towered model)")
        teacher = self.teachers(features).mean(dim=0)
        bridge, nodes = self.bridge(features)
        bridge_ce = F.binary_cross_entropy_with_logits(bridge, labels)
        bridge_kd = soft_label_loss(bridge, teacher, cfg.kd_loss, cfg.kd_temperature)
        own = bridge_ce + cfg.kd_weight * bridge_kd
        prediction = self._student_terms(out, bridge)
        relation = torch.stack([relation_gap(h[-1], nodes.detach()) for h in out.hidden]).sum()
        terms.update(bridge_ce=bridge_ce, bridge_kd=bridge_kd, kd=prediction, hint=relation)
        return cfg.kd_weight * prediction + cfg.hint_weight * relation, own


def make_distiller(
    cfg: FusionConfig, nets: Sequence[nn.Module], vocab_sizes: Sequence[int] | None
) -> Distiller:
    """The distiller of ``cfg.kind`` around the trained ``nets`` (the gate and the bridge read
    the ids, so they need the vocabulary sizes of the fields the student sees)."""
    teachers = FrozenTeachers(nets)
    if cfg.kind == "kd":
        return Distiller(cfg, teachers)
    if vocab_sizes is None:
        raise ValueError(f"fusion={cfg.kind} needs the fields' vocabulary sizes")
    if cfg.kind == "eckd":
        return GatedEnsembleDistiller(cfg, teachers, vocab_sizes)
    if cfg.kind == "bkd":
        return BridgeDistiller(cfg, teachers, vocab_sizes)
    raise ValueError(f"fusion.kind={cfg.kind!r} does not distil")
