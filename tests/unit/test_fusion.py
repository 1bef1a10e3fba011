"""DTF: fusion losses, schedules, the objective for 1/2/4 towers, the served tower."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reaction.data.schema import FeatureMap, FieldSpec
from reaction.fusion.config import FusionConfig, fusion_config
from reaction.fusion.losses import (
    all_pairs,
    contrastive_fusion,
    normalized_states,
    relational_fusion,
    sampled_pairs,
    spatial_fusion,
)
from reaction.fusion.objective import FusionObjective
from reaction.fusion.schedules import FusionSchedule
from reaction.models.layers.embedding import GroupedFieldEmbedding
from reaction.models.layers.reparam_towers import ReparamTowers
from reaction.models.reaction import REACTION

FEATURE_MAP = FeatureMap(tuple(FieldSpec(f"f{i}", "categorical", 7 + i) for i in range(4)))


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g)


PAIR = [(0, 1)]


def _states(*towers: torch.Tensor) -> torch.Tensor:
    return normalized_states(list(towers))


# The fusion losses as REACTION.md writes them, one ordered pair at a time: the reference that the
# batched, shared-normalisation forms in reaction.fusion.losses must reproduce.
def _spatial_reference(h_a: torch.Tensor, h_b: torch.Tensor, margin: float) -> torch.Tensor:
    return F.relu(1.0 - F.cosine_similarity(h_a, h_b, dim=1, eps=1e-8) - margin).mean()


def _relational_reference(h_a: torch.Tensor, h_b: torch.Tensor) -> torch.Tensor:
    a, b = F.normalize(h_a, dim=1), F.normalize(h_b, dim=1)
    return (a @ a.T - b @ b.T).pow(2).mean()


def _contrastive_reference(h_a: torch.Tensor, h_b: torch.Tensor, tau: float) -> torch.Tensor:
    logits = F.normalize(h_a, dim=1) @ F.normalize(h_b, dim=1).T / tau
    rows = -(logits.diag() - logits.logsumexp(1)).mean()
    cols = -(logits.diag() - logits.logsumexp(0)).mean()
    return (rows + cols) / 2


def test_spatial_and_relational_fusion_are_zero_for_identical_towers() -> None:
    a, b = _pair()
    assert spatial_fusion(_states(a, a.clone()), PAIR, margin=0.1).item() == 0.0
    assert relational_fusion(_states(a, a.clone()), PAIR).item() == pytest.approx(0.0, abs=1e-6)
    assert (
        spatial_fusion(_states(a, b), PAIR, margin=0.1).item() > 0.5
    )  # random directions: cos ~ 0
    assert relational_fusion(_states(a, b), PAIR).item() > 0.01
    # the margin spares positions already aligned within it
    assert spatial_fusion(_states(a, a + 0.01 * b), PAIR, margin=0.1).item() == 0.0


def test_contrastive_fusion_is_lowest_for_identical_towers() -> None:
    a, b = _pair()
    same = contrastive_fusion(_states(a, a.clone()), PAIR, tau=0.5).item()
    assert 0 < same < contrastive_fusion(_states(a, b), PAIR, tau=0.5).item()


def _blockwise_contrastive_reference(
    h_a: torch.Tensor, h_b: torch.Tensor, tau: float, negatives: int | None
) -> torch.Tensor:
    """InfoNCE within consecutive blocks of ``negatives`` rows (a last, shorter block its own)."""
    size = len(h_a) if negatives is None else negatives
    parts = [
        _contrastive_reference(h_a[i : i + size], h_b[i : i + size], tau) * len(h_a[i : i + size])
        for i in range(0, len(h_a), size)
    ]
    return sum(parts) / len(h_a)


@pytest.mark.parametrize(
    ("towers", "tau", "negatives", "pairs_per_step"),
    [
        (2, 0.5, None, None),
        (3, 0.5, 100, None),
        (8, 0.5, None, None),
        (3, 0.01, None, None),
        (8, 0.01, 100, None),
        (8, 0.5, 100, 3),
    ],
)
def test_batched_fusion_losses_equal_the_pairwise_formulas_with_their_gradients(
    towers: int, tau: float, negatives: int | None, pairs_per_step: int | None
) -> None:
    """Values and gradients of every pair match the per-pair definitions to 1e-6, in float32,
    with one sample whose ReLU layer died (all-zero states) in every tower. Spatial fusion reads
    the raw states (as the objective passes them), the others the normalised ones; InfoNCE both
    with the one ``exp`` (tau 0.5) and with ``logsumexp`` (tau 0.01, past ``EXP_RANGE``),
    over the whole batch and over blocks with a shorter last one; with sampled pairs the towers
    in no pair get no gradient."""
    g = torch.Generator().manual_seed(towers)
    pre_activation = torch.randn(towers, 256, 24, generator=g)
    pre_activation[:, 5] = -1.0
    pre_activation.requires_grad_()
    torch.manual_seed(towers)
    pairs = sampled_pairs(towers, pairs_per_step)
    losses = {
        "srf": (
            lambda h: spatial_fusion(list(h), pairs, 0.1),
            lambda a, b: _spatial_reference(a, b, 0.1),
        ),
        "rrf": (
            lambda h: relational_fusion(normalized_states(list(h)), pairs),
            _relational_reference,
        ),
        "contra": (
            lambda h: contrastive_fusion(normalized_states(list(h)), pairs, tau, negatives),
            lambda a, b: _blockwise_contrastive_reference(a, b, tau, negatives),
        ),
    }
    for name, (batched, reference) in losses.items():
        weights = torch.rand(len(pairs), generator=g)  # distinct weights: per-pair gradients count
        hidden = torch.relu(pre_activation)
        value = batched(hidden)
        expected = torch.stack([reference(hidden[i], hidden[j]) for i, j in pairs])
        torch.testing.assert_close(value, expected, atol=1e-6, rtol=1e-5, msg=name)
        (grad,) = torch.autograd.grad((weights * value).sum(), pre_activation, retain_graph=True)
        (expected_grad,) = torch.autograd.grad((weights * expected).sum(), pre_activation)
        torch.testing.assert_close(grad, expected_grad, atol=1e-6, rtol=1e-4, msg=name)


def test_sampled_pairs_are_distinct_seeded_and_unbiased_for_the_mean_over_pairs() -> None:
    assert sampled_pairs(4, None) == sampled_pairs(4, 6) == all_pairs(4)
    torch.manual_seed(0)
    draws = [sampled_pairs(8, 3) for _ in range(4000)]
    assert all(len(set(d)) == 3 and all(a < b for a, b in d) for d in draws)
    torch.manual_seed(0)
    assert sampled_pairs(8, 3) == draws[0]
    counts = torch.zeros(28)
    for draw in draws:
        for pair in draw:
            counts[all_pairs(8).index(pair)] += 1
    # every pair equally likely (3/28 of draws each): the sampled mean estimates the full mean
    assert (counts / len(draws) - 3 / 28).abs().max() < 0.02


def test_objective_with_sampled_pairs_averages_only_the_drawn_pairs() -> None:
    torch.manual_seed(0)
    net = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=4, init_std=0.5)
    out = net.forward_train(torch.randint(0, 7, (16, 4)), with_hidden=True)
    labels = torch.randint(0, 2, (16,)).float()
    cfg = FusionConfig(kind="dtf", towers=4, beta=1.0, pairs_per_step=2)
    torch.manual_seed(5)
    terms = FusionObjective(cfg)(out, labels)
    torch.manual_seed(5)
    drawn = sampled_pairs(4, 2)
    states = normalized_states([h[-1] for h in out.hidden])
    assert terms["rrf"].item() == pytest.approx(relational_fusion(states, drawn).mean().item())


def test_contrastive_fusion_with_negative_blocks_is_infonce_within_each_block() -> None:
    g = torch.Generator().manual_seed(0)
    hidden = [torch.randn(70, 8, generator=g) for _ in range(3)]
    blocked = contrastive_fusion(normalized_states(hidden), all_pairs(3), tau=0.5, negatives=32)
    blocks = [(slice(0, 32), 32), (slice(32, 64), 32), (slice(64, 70), 6)]  # the last one short
    for value, (i, j) in zip(blocked, all_pairs(3), strict=True):
        parts = [_contrastive_reference(hidden[i][r], hidden[j][r], 0.5) * n for r, n in blocks]
        assert value.item() == pytest.approx((sum(parts) / 70).item(), rel=1e-6)
    whole = contrastive_fusion(normalized_states(hidden), all_pairs(3), tau=0.5)
    torch.testing.assert_close(
        contrastive_fusion(normalized_states(hidden), all_pairs(3), tau=0.5, negatives=70), whole
    )
    assert (blocked < whole).all()  # fewer negatives: a smaller log-partition


def test_relational_fusion_keeps_float32_under_bf16_autocast() -> None:
    """Its identity subtracts norms of size ~B^2: in bf16 the value would be lost entirely."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(1024, 32, generator=g)
    states = normalized_states([base, base + 0.05 * torch.randn(1024, 32, generator=g)])
    exact = relational_fusion(states, PAIR)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = relational_fusion(states, PAIR)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, exact, atol=1e-6, rtol=1e-4)


def test_fusion_terms_run_in_float32_under_bf16_autocast() -> None:
    """The towers may run in bf16 (``precision=bf16-mixed``); the fusion terms and their
    hand-written backwards stay in float32 and hand each tower a gradient of its own dtype."""
    torch.manual_seed(0)
    net = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[16, 8], num_towers=3, init_std=0.5)
    features, labels = torch.randint(0, 7, (64, 4)), torch.randint(0, 2, (64,)).float()
    objective = FusionObjective(FusionConfig(kind="dtf", towers=3, contra_negatives=32))
    exact = objective(net.forward_train(features, with_hidden=True), labels)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net.forward_train(features, with_hidden=True)
        terms = objective(out, labels)
    assert out.hidden[0][0].dtype == torch.bfloat16
    for name in ("srf", "rrf", "contra"):
        assert terms[name].dtype == torch.float32
        torch.testing.assert_close(terms[name], exact[name], rtol=0.05, atol=1e-3, msg=name)
    terms["total"].backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in net.towers.parameters())


def test_fusion_losses_refuse_a_single_tower_and_mismatched_states() -> None:
    a, b = _pair()
    with pytest.raises(ValueError, match="at least 2 towers, got 1"):
        all_pairs(1)
    with pytest.raises(ValueError, match=r"must all be \(B, H\)"):
        normalized_states([a, b[:, :4]])
    with pytest.raises(ValueError, match="tau must be > 0, got 0"):
        contrastive_fusion(_states(a, b), PAIR, tau=0)


@pytest.mark.parametrize(
    "loss",
    [
        lambda s: spatial_fusion(s, PAIR, margin=0.0),
        lambda s: relational_fusion(s, PAIR),
        lambda s: contrastive_fusion(s, PAIR, tau=0.5),
    ],
)
def test_a_gradient_step_on_a_fusion_loss_moves_the_towers_together(loss) -> None:
    a, b = (t.requires_grad_() for t in _pair(1))
    before = F.cosine_similarity(a, b, dim=1).mean().item()
    loss(_states(a, b)).sum().backward()
    with torch.no_grad():
        a2, b2 = a - 5.0 * a.grad, b - 5.0 * b.grad
    assert F.cosine_similarity(a2, b2, dim=1).mean().item() > before


def test_schedules_follow_their_definitions() -> None:
    warm = FusionSchedule("linear_warmup", 0.0, 0.4)
    assert [warm(t) for t in (0.0, 0.2, 0.4, 0.9)] == pytest.approx([0.0, 0.5, 1.0, 1.0])
    cosine = FusionSchedule("cosine", 0.2, 0.6)
    assert cosine(0.1) == 0.0 and cosine(0.4) == pytest.approx(0.5) and cosine(0.6) == 1.0
    step = FusionSchedule("step", 0.0, 0.5)
    assert (step(0.49), step(0.5)) == (1.0, 0.0)
    assert FusionSchedule("constant")(0.7) == 1.0
    with pytest.raises(ValueError, match="need 0 <= start < end <= 1, got start=0.5, end=0.5"):
        FusionSchedule("step", 0.5, 0.5)


@pytest.mark.parametrize("towers", [1, 2, 4])
def test_objective_sums_tower_losses_and_fuses_every_pair(towers: int) -> None:
    torch.manual_seed(0)
    net = REACTION(
        FEATURE_MAP, embedding_dim=4, hidden_units=[8, 6], num_towers=towers, init_std=0.5
    )
    features = torch.randint(0, 7, (16, 4))
    labels = torch.randint(0, 2, (16,)).float()
    out = net.forward_train(features, with_hidden=True)
    assert out.logits.shape == (towers, 16) and [h.shape[1] for h in out.hidden[0]] == [8, 6]
    cfg = FusionConfig(kind="dtf", towers=towers, alpha=0.1, beta=1.0, gamma=0.01)
    terms = FusionObjective(cfg)(out, labels)
    ce = sum(F.binary_cross_entropy_with_logits(z, labels) for z in out.logits)
    if towers == 1:
        assert terms["total"].item() == pytest.approx(ce.item()) and "srf" not in terms
        return
    fused = 0.1 * terms["srf"] + 1.0 * terms["rrf"] + 0.01 * terms["contra"]
    assert terms["total"].item() == pytest.approx((ce + towers * fused).item())
    assert terms["srf"].item() > 0 and terms["rrf"].item() > 0


def test_ensemble_distillation_pulls_each_tower_towards_the_towers_mean_prediction() -> None:
    torch.manual_seed(0)
    net = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=3, init_std=0.5)
    features = torch.randint(0, 7, (16, 4))
    labels = torch.randint(0, 2, (16,)).float()
    out = net.forward_train(features, with_hidden=True)
    plain = FusionObjective(FusionConfig(kind="dtf", towers=3, beta=1.0))(out, labels)
    with_kd = FusionObjective(FusionConfig(kind="dtf", towers=3, beta=1.0, ensemble_kd=0.5))
    terms = with_kd(out, labels)
    ensemble = torch.sigmoid(out.logits.mean(0))
    kd = sum(F.binary_cross_entropy_with_logits(z, ensemble) for z in out.logits)
    assert terms["total"].item() == pytest.approx((plain["total"] + 0.5 * kd).item(), rel=1e-6)
    # the ensemble is a fixed target: its gradient reaches a tower only through that tower's z
    (grad,) = torch.autograd.grad(terms["ensemble_kd"], out.logits)
    expected = (torch.sigmoid(out.logits) - ensemble) / out.logits.numel()
    torch.testing.assert_close(grad, expected.detach())


def test_towers_with_low_rank_crosses_serve_exactly_what_they_trained() -> None:
    torch.manual_seed(0)
    plain = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=2)
    crossed = REACTION(
        FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=2, cross_layers=2, cross_rank=3
    ).eval()
    flat = crossed.embedding.flat_dim
    extra = sum(p.numel() for p in crossed.parameters()) - sum(
        p.numel() for p in plain.parameters()
    )
    assert extra == 2 * 2 * (2 * flat * 3 + flat)  # towers x layers x (U, V, bias)
    features = torch.randint(0, 7, (32, 4))
    with torch.no_grad():
        served = crossed.served()(features)
        assert torch.equal(served, crossed.forward_train(features).logits[0])
        assert not torch.allclose(served, plain.served()(features))
    with pytest.raises(ValueError, match="take no dropout, batch_norm, crosses"):
        REACTION(FEATURE_MAP, num_towers=2, parametrization="reparam", cross_layers=1)


def test_towers_with_products_add_field_pair_inner_products() -> None:
    torch.manual_seed(0)
    net = REACTION(
        FEATURE_MAP,
        embedding_dim=4,
        hidden_units=[8],
        num_towers=4,
        serve=0,
        products=["fwfm", "inner", None, "inner+fwfm"],
    ).eval()
    fwfm, inner, plain, both = net.towers.towers
    assert fwfm.pair_logit.weight.numel() == 6 and inner.pair_logit is None  # 4 fields: 6 pairs
    first = [t.mlp.modules() for t in (inner, plain)]
    widths = [next(m for m in mods if isinstance(m, torch.nn.Linear)).in_features for mods in first]
    assert widths == [16 + 6, 16]  # 4 fields x 4 dims, + 6 inner products
    with torch.no_grad():
        fwfm.pair_logit.weight.copy_(torch.arange(1.0, 7.0))
        both.pair_logit.weight.copy_(torch.arange(1.0, 7.0))
    features = torch.randint(0, 7, (16, 4))
    v = net.embedding(features)  # (B, F, D)
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    products = torch.stack([(v[:, i] * v[:, j]).sum(dim=1) for i, j in pairs], dim=1)
    flat = v.flatten(start_dim=1)
    with torch.no_grad():
        served = net.served()(features)
        trained = net.forward_train(features).logits
        fwfm_by_hand = fwfm.head(fwfm.mlp(flat)).squeeze(-1) + products @ torch.arange(1.0, 7.0)
        inner_by_hand = inner.head(inner.mlp(torch.cat([flat, products], dim=1))).squeeze(-1)
        both_mlp = both.head(both.mlp(torch.cat([flat, products], dim=1))).squeeze(-1)
    torch.testing.assert_close(served, fwfm_by_hand)
    torch.testing.assert_close(trained[1], inner_by_hand)
    torch.testing.assert_close(trained[3], both_mlp + products @ torch.arange(1.0, 7.0))
    assert torch.equal(served, trained[0])
    with pytest.raises(
        ValueError, match=r"products='outer' \(allowed: null, fwfm, inner, inner\+fwfm\)"
    ):
        REACTION(FEATURE_MAP, num_towers=2, products="outer")
    with pytest.raises(ValueError, match="crosses or products"):
        REACTION(FEATURE_MAP, num_towers=2, parametrization="reparam", products="inner")
    mixed = GroupedFieldEmbedding(FEATURE_MAP.vocab_sizes, [4, 4, 8, 2])  # afe.dim_policy=relevance
    with pytest.raises(ValueError, match="one embedding size for every field"):
        REACTION(FEATURE_MAP, num_towers=2, products="fwfm", embedding=mixed)


def test_towers_may_differ_a_plain_served_tower_beside_a_full_rank_cross_peer() -> None:
    torch.manual_seed(0)
    net = REACTION(
        FEATURE_MAP,
        embedding_dim=4,
        hidden_units=[8, 6],
        num_towers=3,
        serve=0,
        cross_layers=[0, 2, 1],
        cross_rank=[None, None, 3],
    )
    plain, peer, light = net.towers.towers
    assert plain.cross is None and len(peer.cross.layers) == 2 and light.cross.low_rank == 3
    flat = net.embedding.flat_dim
    assert sum(p.numel() for p in peer.cross.parameters()) == 2 * (flat * flat + flat)
    out = net.forward_train(torch.randint(0, 7, (16, 4)), with_hidden=True)
    assert {tuple(h.shape[1] for h in tower) for tower in out.hidden} == {(8, 6)}
    assert net.served().tower is plain
    # the last entry repeats for further towers: [0, 2] is "plain served tower, crossed peers"
    four = REACTION(FEATURE_MAP, num_towers=4, cross_layers=[0, 2], cross_rank=None)
    assert [len(t.cross.layers) if t.cross else 0 for t in four.towers.towers] == [0, 2, 2, 2]
    alone = REACTION(FEATURE_MAP, num_towers=1, cross_layers=[0, 2])
    assert alone.towers.towers[0].cross is None  # fusion.towers=1: the served tower alone
    with pytest.raises(ValueError, match=r"cross_layers=\[\] \(allowed: a value or a non-empty"):
        REACTION(FEATURE_MAP, num_towers=2, cross_layers=[])


def test_served_tower_reproduces_the_trained_towers_prediction_exactly() -> None:
    torch.manual_seed(0)
    net = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=3).eval()
    features = torch.randint(0, 7, (64, 4))
    net.choose_served([0.70, 0.74, 0.72])
    assert int(net.served_index) == 1
    served = net.served()
    with torch.no_grad():
        assert torch.equal(
            served(features), net.forward_train(features, with_hidden=True).logits[1]
        )
        assert torch.equal(net(features), served(features))
    assert sum(p.numel() for p in served.parameters()) < sum(p.numel() for p in net.parameters())
    fixed = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=3, serve=2)
    fixed.choose_served([0.9, 0.1, 0.1])
    assert int(fixed.served_index) == 2


def test_fusion_config_errors_name_key_value_and_range() -> None:
    with pytest.raises(ValueError, match="fusion=kd needs fusion.teacher_run"):
        FusionConfig(kind="kd")
    with pytest.raises(ValueError, match=r"fusion.alpha=-1 \(allowed: >= 0\)"):
        FusionConfig(kind="dtf", towers=2, alpha=-1)
    with pytest.raises(ValueError, match=r"fusion.pairs_per_step=0 \(allowed: an int >= 1"):
        FusionConfig(kind="dtf", towers=2, pairs_per_step=0)
    with pytest.raises(ValueError, match=r"fusion.contra_negatives=1 \(allowed: an int >= 2"):
        FusionConfig(kind="dtf", towers=2, contra_negatives=1)
    with pytest.raises(ValueError, match=r"fusion.ensemble_kd=-0.5 \(allowed: >= 0\)"):
        FusionConfig(kind="dtf", towers=2, ensemble_kd=-0.5)
    with pytest.raises(ValueError, match=r"fusion.towers=9 \(allowed: 1..8\)"):
        FusionConfig(kind="dtf", towers=9)
    with pytest.raises(ValueError, match=r"unknown fusion key\(s\) \['alpah'\]"):
        fusion_config({"kind": "dtf", "alpah": 0.1})
    with pytest.raises(ValueError, match="fusion.serve=5"):
        REACTION(FEATURE_MAP, num_towers=2, serve=5)
    assert math.isclose(fusion_config({"schedule": {"name": "step", "end": 0.5}}).schedule(0.6), 0)


def test_distillation_and_confidence_penalty_terms() -> None:
    torch.manual_seed(0)
    net = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=1)
    teacher = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=1).eval()
    features = torch.randint(0, 7, (16, 4))
    labels = torch.randint(0, 2, (16,)).float()
    out = net.forward_train(features, with_hidden=True)
    z = out.logits[0]
    kd = FusionObjective(
        FusionConfig(kind="kd", kd_weight=0.5, kd_temperature=2.0, teacher_run="x"), teacher
    )
    terms = kd(out, labels, features)
    soft = torch.sigmoid(teacher(features).detach() / 2.0)
    expected_kd = 4.0 * F.binary_cross_entropy_with_logits(z / 2.0, soft)
    assert terms["kd"].item() == pytest.approx(expected_kd.item())
    ce = F.binary_cross_entropy_with_logits(z, labels)
    assert terms["total"].item() == pytest.approx((ce + 0.5 * expected_kd).item())
    assert not any(p.requires_grad for p in kd.teacher.parameters())
    penalty = FusionObjective(FusionConfig(kind="entropy_reg", entropy_weight=0.1))(out, labels)
    p = torch.sigmoid(z)
    entropy = -(p * p.log() + (1 - p) * (1 - p).log()).mean()
    assert penalty["total"].item() == pytest.approx((ce - 0.1 * entropy).item(), rel=1e-5)


def test_parameter_count_matches_a_hand_computation() -> None:
    net = REACTION(FEATURE_MAP, embedding_dim=4, hidden_units=[8, 6], num_towers=3)
    embedding = sum(FEATURE_MAP.vocab_sizes) * 4  # 7 + 8 + 9 + 10 ids
    tower = (16 * 8 + 8) + (8 * 6 + 6) + (6 + 1)
    assert sum(p.numel() for p in net.parameters()) == embedding + 3 * tower
    assert sum(p.numel() for p in net.served().parameters()) == embedding + tower


def test_reparam_towers_merge_exactly_once_s_reaches_zero() -> None:
    torch.manual_seed(0)
    towers = ReparamTowers(3, 10, [16, 8])
    with torch.no_grad():  # arbitrary mixing, as after training
        for mix in towers.mix:
            mix.copy_(torch.randn(3, 3))
    x = torch.randn(64, 10)
    assert towers(x)[0].std(0).mean() > 1e-2  # s = 1: the towers differ
    with pytest.raises(ValueError, match="cannot merge the towers while s = 1 > 0"):
        towers.merge()
    towers.set_scale(0.0)
    merged = towers.merge()
    with torch.no_grad():
        logits, _ = towers(x)
        dp = (torch.sigmoid(logits) - torch.sigmoid(merged(x))).abs().max()
        assert dp <= 1e-5
        assert torch.allclose(towers.forward_shared(x), merged(x), atol=1e-6)
    assert sum(p.numel() for p in merged.parameters()) == (10 * 16 + 16) + (16 * 8 + 8) + (8 + 1)


def test_reparam_net_serves_its_shared_tower() -> None:
    torch.manual_seed(0)
    net = REACTION(
        FEATURE_MAP, embedding_dim=4, hidden_units=[8], num_towers=2, parametrization="reparam"
    )
    features = torch.randint(0, 7, (16, 4))
    assert net.merges_towers and net.forward_train(features, with_hidden=True).logits.shape == (
        2,
        16,
    )
    with torch.no_grad():
        assert torch.equal(net.served()(features), net(features))
    with pytest.raises(ValueError, match="fusion.parametrization='shared'"):
        REACTION(FEATURE_MAP, parametrization="shared")
