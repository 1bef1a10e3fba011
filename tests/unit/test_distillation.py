"""Distillation baselines: ECKD's gate, KD-DAGFM's logit matching, BKD's bridge, the DAGFM
student, and the teacher config checks (``reaction.fusion.distillation``, ``models/dagfm.py``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

from reaction.data.schema import FeatureMap, FieldSpec
from reaction.fusion.config import FusionConfig
from reaction.fusion.distillation import TeacherGate, relation_gap
from reaction.fusion.objective import FusionObjective
from reaction.models.dagfm import DAGFM
from reaction.models.layers.dag_propagation import DAGPropagation
from reaction.models.reaction import REACTION
from reaction.runs.teacher import teacher_config, teacher_problems

VOCAB = [5, 7, 3, 6]
FEATURE_MAP = FeatureMap(tuple(FieldSpec(f"c{i}", "categorical", v) for i, v in enumerate(VOCAB)))


class _Fixed(nn.Module):
    """A teacher whose logit is a fixed function of the ids (with a parameter, to check that
    teachers never get gradients)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * (features.float().sum(dim=1) - 8.0) / 4.0


def _batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    features = torch.stack([torch.randint(0, v, (n,)) for v in VOCAB], dim=1)
    return features, torch.randint(0, 2, (n,)).float()


def _student() -> REACTION:
    torch.manual_seed(1)
    return REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8, 4], num_towers=1, init_std=0.1)


def test_the_gate_weights_are_a_softmax_over_teachers_per_sample() -> None:
    gate = TeacherGate(VOCAB, num_teachers=3, gate_dim=2)
    nn.init.normal_(gate.score.weight)
    features, _ = _batch()
    weights = gate(features)
    assert weights.shape == (32, 3) and (weights > 0).all()
    assert torch.allclose(weights.sum(dim=1), torch.ones(32))
    assert weights.std(dim=0).min() > 0  # per sample, not one global mixture


def test_eckd_gradients_reach_the_gate_and_the_student_only_each_from_its_own_loss() -> None:
    features, labels = _batch()
    student, teachers = _student(), [_Fixed(1.0), _Fixed(-0.5)]
    cfg = FusionConfig(kind="eckd", kd_weight=0.5, teacher_model=["a", "b"])
    objective = FusionObjective(cfg, teachers, VOCAB)
    gate = objective.distiller.gate
    out = student.forward_train(features)
    terms = objective(out, labels, features)
    student_params, gate_params = list(student.parameters()), list(gate.parameters())
    kd_grads = torch.autograd.grad(terms["kd"], student_params + gate_params, **_unused())
    assert all(g is not None for g in kd_grads[: len(student_params)])
    assert all(g is None for g in kd_grads[len(student_params) :])  # the target is detached
    gate_grads = torch.autograd.grad(terms["gate_ce"], student_params + gate_params, **_unused())
    assert all(g is None for g in gate_grads[: len(student_params)])
    assert any(g is not None and g.abs().sum() > 0 for g in gate_grads[len(student_params) :])
    terms["total"].backward()
    assert all(p.grad is None for t in teachers for p in t.parameters())
    assert not any(p.requires_grad for t in teachers for p in t.parameters())


def _unused() -> dict[str, bool]:
    return {"allow_unused": True, "retain_graph": True}


def test_eckd_total_equals_the_hand_computed_value_with_a_fresh_gate() -> None:
    """A fresh gate (zero scores) weighs the teachers equally: the target is their mean logit."""
    features, labels = _batch(8)
    student, teachers = _student(), [_Fixed(1.0), _Fixed(-0.5)]
    cfg = FusionConfig(kind="eckd", kd_weight=0.5, kd_temperature=2.0, teacher_run=["a", "b"])
    terms = FusionObjective(cfg, teachers, VOCAB)(student.forward_train(features), labels, features)
    z = student(features)
    ensemble = 0.5 * (teachers[0](features) + teachers[1](features))
    kd = 4.0 * F.binary_cross_entropy_with_logits(z / 2.0, torch.sigmoid(ensemble / 2.0))
    gate_ce = F.binary_cross_entropy_with_logits(ensemble, labels)
    ce = F.binary_cross_entropy_with_logits(z, labels)
    assert terms["kd"].item() == pytest.approx(kd.item(), rel=1e-6)
    assert terms["gate_ce"].item() == pytest.approx(gate_ce.item(), rel=1e-6)
    assert terms["total"].item() == pytest.approx((ce + 0.5 * kd + gate_ce).item(), rel=1e-6)


def test_kd_dagfm_logit_matching_equals_the_hand_computed_value() -> None:
    features, labels = _batch(8)
    student, teacher = _student(), _Fixed(1.5)
    cfg = FusionConfig(kind="kd", kd_loss="mse", kd_weight=1.0, ce_weight=0.1, teacher_run="t")
    terms = FusionObjective(cfg, teacher)(student.forward_train(features), labels, features)
    z, t = student(features), teacher(features)
    expected = 0.1 * F.binary_cross_entropy_with_logits(z, labels) + ((z - t) ** 2).mean()
    assert terms["kd"].item() == pytest.approx(((z - t) ** 2).mean().item(), rel=1e-6)
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_kd_with_several_teachers_follows_their_mean_logit() -> None:
    features, labels = _batch(8)
    student, teachers = _student(), [_Fixed(1.0), _Fixed(3.0)]
    cfg = FusionConfig(kind="kd", kd_loss="mse", teacher_run=["a", "b"])
    terms = FusionObjective(cfg, teachers)(student.forward_train(features), labels, features)
    mean = 2.0 * teachers[0](features)
    assert terms["kd"].item() == pytest.approx(((student(features) - mean) ** 2).mean().item())


def test_relation_gap_is_the_squared_difference_of_the_in_batch_cosine_matrices() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(10, 6), torch.randn(10, 3)

    def cosines(x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(x, dim=1)
        return x @ x.T

    expected = ((cosines(a) - cosines(b)) ** 2).mean()
    assert relation_gap(a, b).item() == pytest.approx(expected.item(), rel=1e-5)
    assert relation_gap(a, 3.0 * a).item() == pytest.approx(0.0, abs=1e-5)


def test_bkd_trains_the_bridge_from_the_teacher_and_the_student_from_the_bridge() -> None:
    features, labels = _batch()
    student, teacher = _student(), _Fixed(1.0)
    cfg = FusionConfig(kind="bkd", kd_weight=0.5, hint_weight=0.1, teacher_model="dcnv2")
    objective = FusionObjective(cfg, teacher, VOCAB)
    assert objective.needs_hidden
    out = student.forward_train(features, with_hidden=True)
    terms = objective(out, labels, features)
    bridge = list(objective.distiller.bridge.parameters())
    student_params = list(student.parameters())
    for name in ("kd", "hint"):  # student terms: the bridge's outputs are targets
        grads = torch.autograd.grad(terms[name], student_params + bridge, **_unused())
        assert all(g is None for g in grads[len(student_params) :])
        assert any(g is not None for g in grads[: len(student_params)])
    for name in ("bridge_ce", "bridge_kd"):  # the bridge's own losses never touch the student
        grads = torch.autograd.grad(terms[name], student_params + bridge, **_unused())
        assert all(g is None for g in grads[: len(student_params)])
    ce = F.binary_cross_entropy_with_logits(out.logits[0], labels)
    bridge_own = terms["bridge_ce"] + 0.5 * terms["bridge_kd"]
    expected = ce + 0.5 * terms["kd"] + 0.1 * terms["hint"] + bridge_own
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("interaction", ["inner", "outer"])
@pytest.mark.parametrize("hidden", [[], [32, 16]])
def test_dagfm_parameter_count_is_the_reference_formula(interaction: str, hidden: list) -> None:
    fields, dim, depth = len(VOCAB), 8, 3
    net = DAGFM(FEATURE_MAP, dim, depth, interaction, hidden_units=hidden)
    edges = (2 if interaction == "outer" else 1) * depth * fields**2 * dim + fields**2
    if hidden:  # DAGFM+: an MLP over the (F D) summed states
        widths = [fields * dim, *hidden, 1]
        head = sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
    else:  # DAGFM: one Linear over F (depth + 1) pooled states
        head = fields * (depth + 1) + 1
    total = sum(VOCAB) * dim + edges + head
    assert sum(p.numel() for p in net.parameters()) == total
    features, labels = _batch()
    logits = net(features)
    assert logits.shape == (32,) and torch.isfinite(logits).all()
    F.binary_cross_entropy_with_logits(logits, labels).backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("interaction", ["inner", "outer"])
def test_dag_propagation_sums_messages_over_the_edges_i_le_j_only(interaction: str) -> None:
    torch.manual_seed(0)
    layer = DAGPropagation(num_fields=3, embedding_dim=2, depth=2, interaction=interaction)
    nn.init.normal_(layer.connect)
    e = torch.randn(4, 3, 2)
    states = layer(e)
    h0 = torch.einsum("ij,bjd->bid", layer.connect, e)
    h = h0
    for t in range(2):
        expected = torch.zeros_like(h)
        for j in range(3):
            for i in range(j + 1):  # the DAG: edges i -> j for i <= j
                if interaction == "inner":
                    message = layer.p[t, i, j] * h[:, i]
                else:
                    message = (h[:, i] * layer.p[t, i, j]).sum(-1, keepdim=True) * layer.q[t, i, j]
                expected[:, j] += message
        h = h0 * expected
        assert torch.allclose(states[t + 1], h, atol=1e-5)


def test_distillation_configs_name_what_is_missing() -> None:
    with pytest.raises(
        ValueError, match="fusion=bkd needs fusion.teacher_run=.* or fusion.teacher"
    ):
        FusionConfig(kind="bkd")
    with pytest.raises(ValueError, match=r"fusion=eckd gates between teachers, got 1"):
        FusionConfig(kind="eckd", teacher_model="dcnv2")
    with pytest.raises(ValueError, match=r"fusion.kd_loss='kl'"):
        FusionConfig(kind="kd", teacher_run="x", kd_loss="kl")
    with pytest.raises(ValueError, match=r"fusion=kd trains one student: fusion.towers=2"):
        FusionConfig(kind="kd", teacher_run="x", towers=2)
    both = FusionConfig(kind="eckd", teacher_run="a", teacher_model=["b", "c"])
    assert both.teacher_runs == ("a",) and both.teacher_models == ("b", "c")
    unread = FusionConfig(kind="kd", teacher_run="a", gate_dim=8).unread_keys()
    assert "gate_dim" in unread


def test_teacher_models_are_checked_and_trained_as_plain_runs(tmp_path) -> None:
    def cfg(teacher_model: object) -> OmegaConf:
        return OmegaConf.create(
            {
                "fusion": {"kind": "eckd", "teacher_model": teacher_model},
                "model": {"name": "reaction"},
                "afe": {"variant": "paper"},
                "paths": {"output_dir": str(tmp_path)},
            }
        )

    problems = teacher_problems(cfg(["dcnv2", "nope", "reaction"]))
    assert any("fusion.teacher_model='nope': no such model" in p for p in problems)
    assert any("fusion.teacher_model='reaction' also picks afe/fusion" in p for p in problems)
    assert len(problems) == 2
    teacher = teacher_config(cfg(["dcnv2"]), "dcnv2", tmp_path / "teachers" / "0_dcnv2")
    assert teacher.model.name == "dcnv2" and teacher.afe.variant == "none"
    assert teacher.fusion.kind == "none" and teacher.paths.output_dir.endswith("0_dcnv2")


def test_a_kd_checkpoint_written_before_several_teachers_still_loads() -> None:
    teacher = _Fixed(2.0)
    objective = FusionObjective(FusionConfig(kind="kd", teacher_run="t"), _Fixed(0.0))
    objective.load_state_dict({"teacher.scale": teacher.scale.detach().clone()})
    assert objective.teacher.scale.item() == 2.0
