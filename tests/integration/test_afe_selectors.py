"""Field selectors (reaction.afe.selectors) on the AFE plan contract and the planted truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from reaction.afe import AFENet, AFEPlan, build_net
from reaction.afe.config import AFEConfig
from reaction.afe.fit import afe_config, fit_for_data
from reaction.afe.selectors import LEARNED, METHODS
from reaction.afe.selectors.crosses import first_appearance, rank_crosses
from reaction.afe.selectors.plan import BUDGET, ZEROED
from reaction.afe.selectors.registry import SELECTORS
from reaction.afe.selectors.score_cache import scores_dir
from reaction.afe.selectors.tayfcs import tay_scores
from reaction.cli.validation import validate_config
from reaction.config.nodes import ConfigError
from reaction.data.preprocess import PreprocessedData
from reaction.data.synthetic_truth import INFORMATIVE, NOISE, REDUNDANT
from reaction.models.dnn import DNN
from reaction.reporting.afe_methods import ALL_FIELDS, auc_table, run_rows, truth_row
from tests.conftest import SMALL_ROWS, compose_train

# A search small enough for a contract test (seconds per method); the planted-truth test uses
# the defaults of conf/afe/_selector.yaml on the whole training split.
TINY = {"rows": 3000, "epochs": 1, "trees": 5, "components": 4}


@pytest.fixture(scope="module")
def planted(data_dir: Path, tmp_path_factory) -> tuple[PreprocessedData, object]:
    """The synthetic data of the small test runs (24k training rows) and its planted truth."""
    cfg = compose_train(
        [f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}"],
        tmp_path_factory.mktemp("selectors"),
        data_dir,
    )
    datamodule = instantiate(cfg.data.datamodule)
    datamodule.prepare_and_setup()
    return datamodule.data, datamodule.raw_source.truth


def fit(data: PreprocessedData, method: str, k: int | None, seed: int = 0, **search) -> AFEPlan:
    cfg = afe_config({"variant": method, "num_fields": k, "seed": seed, "search": search})
    plan = fit_for_data(cfg, data, embedding_dim=8)
    assert plan is not None
    return plan


def forget_rankings(data: PreprocessedData) -> None:
    """Drop the stored rankings, so the next fit searches (a seeding test must not reuse)."""
    shutil.rmtree(scores_dir(data.split_path("train")), ignore_errors=True)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_writes_a_plan_that_round_trips_and_runs_in_front_of_a_model(
    method: str, planted
) -> None:
    data = planted[0]
    plan = fit(data, method, 6, **TINY)
    assert plan.variant == method and len(plan.fields) == 6
    scores = [f.score for f in plan.fields]
    assert scores == sorted(scores, reverse=True)  # rank order
    assert {d["reason"] for d in plan.dropped} <= {BUDGET, ZEROED}
    assert set(plan.field_names) | {d["field"] for d in plan.dropped} == set(
        data.feature_map.field_names
    )
    assert all(d["score"] <= scores[-1] for d in plan.dropped)
    assert ("search_seconds" in plan.fitted_on) == (method in LEARNED)
    if method in LEARNED:
        assert 0 < plan.fitted_on["search_seconds"] <= plan.fitted_on["seconds"]
    loaded = AFEPlan.from_dict(json.loads(plan.to_json()))
    assert loaded == plan and loaded.fingerprint() == plan.fingerprint()
    net = build_net(DNN, data.feature_map, loaded)
    assert isinstance(net, AFENet) and net.net.embedding.num_fields == 6
    ids = torch.zeros(5, data.feature_map.num_fields, dtype=torch.long)
    assert net(ids).shape == (5,)


def test_random_is_seeded(planted) -> None:
    data = planted[0]
    first = fit(data, "random", 10, seed=3)
    forget_rankings(data)
    again = fit(data, "random", 10, seed=3)
    assert first.field_names == again.field_names
    assert fit(data, "random", 10, seed=4).field_names != first.field_names


# Label-aware methods that recover the planted truth at their default search budget.
# PCA never sees the label; AdaFS (per-sample weights) and OptFS (per-value gates) rank the fields
# no better than random on 24k rows (experiments/afe_methods).
FINDERS = ("lasso", "gbdt", "permutation", "autofield", "lpfs", "sfs")


@pytest.mark.slow
@pytest.mark.parametrize("method", FINDERS)
def test_strong_planted_fields_are_found_and_noise_is_dropped_at_k12(method, planted) -> None:
    data, truth = planted
    plan = fit(data, method, 12)
    chosen = set(plan.field_names)
    strongest = sorted(truth.names(INFORMATIVE), key=lambda f: -truth.field(f).effect_var["click"])
    assert set(strongest[:3]) <= chosen, f"missed {set(strongest[:3]) - chosen}"
    noise = chosen & set(truth.names(NOISE))
    assert len(noise) <= 2, f"kept noise {noise}"


def test_a_k_sweep_searches_once_per_method_seed_and_search(planted, monkeypatch) -> None:
    """k only cuts the ranking: a second k reuses the stored one; another seed or search knob
    searches again, and so does a damaged stored file."""
    data = planted[0]
    forget_rankings(data)
    first = fit(data, "lasso", 4, **TINY)
    assert not first.fitted_on["scores_reused"]
    calls: list[int] = []
    lasso = SELECTORS["lasso"]

    def counted(*args):
        calls.append(1)
        return lasso(*args)

    monkeypatch.setitem(SELECTORS, "lasso", counted)
    wider = fit(data, "lasso", 8, **TINY)
    assert wider.fitted_on["scores_reused"] and not calls
    assert wider.field_names[:4] == first.field_names
    assert wider.fitted_on["search_seconds"] == first.fitted_on["search_seconds"]
    for key in ("rows", "sample_rows"):  # recorded with the ranking: the split is not re-read
        assert wider.fitted_on[key] == first.fitted_on[key]
    assert wider.fitted_on["seconds"] >= first.fitted_on["search_seconds"]  # the cost from scratch
    fit(data, "lasso", 4, seed=1, **TINY)
    fit(data, "lasso", 4, **{**TINY, "l1": 0.01})
    assert len(calls) == 2
    for stored in scores_dir(data.split_path("train")).glob("*.json"):
        stored.write_text("{not json")
    again = fit(data, "lasso", 4, **TINY)
    assert not again.fitted_on["scores_reused"] and len(calls) == 3
    assert again.field_names == first.field_names


def test_a_method_zeroes_what_it_removes_and_no_budget_keeps_the_rest(planted) -> None:
    """LASSO's group penalty shrinks whole fields to 0: without a budget they are dropped."""
    data = planted[0]
    plan = fit(data, "lasso", None, l1=0.05, **{k: v for k, v in TINY.items() if k != "rows"})
    zeroed = {d["field"] for d in plan.dropped if d["reason"] == ZEROED}
    assert zeroed and not zeroed & set(plan.field_names)
    assert len(plan.fields) + len(zeroed) == data.feature_map.num_fields


def test_bad_method_k_or_search_key_names_the_key(planted) -> None:
    with pytest.raises(ConfigError, match=r"afe\.variant='lassso' \(allowed: \("):
        AFEConfig(variant="lassso")
    with pytest.raises(ConfigError, match=r"afe\.num_fields=0 \(allowed: null or >= 1\)"):
        AFEConfig(variant="lasso", num_fields=0)
    with pytest.raises(ConfigError, match=r"afe\.num_fields=40 \(allowed: null or 1\.\.39"):
        fit(planted[0], "random", 40)
    with pytest.raises(ConfigError, match=r"unknown afe\.search key\(s\) \['rowz'\]"):
        AFEConfig(variant="lasso", search={"rowz": 5})
    with pytest.raises(ConfigError, match=r"afe\.search\.lr=0 \(allowed: > 0\)"):
        AFEConfig(variant="lasso", search={"lr": 0})


def test_selector_configs_compose_and_refuse_what_they_do_not_read(tmp_path: Path) -> None:
    for method in METHODS:
        cfg = compose_train([f"afe={method}", "afe.num_fields=8"], tmp_path, tmp_path)
        afe = afe_config(cfg.afe)
        assert (afe.variant, afe.num_fields, afe.seed) == (method, 8, cfg.seed)
    cfg = compose_train(["afe=lasso", "+afe.mi_threshold=0.5"], tmp_path, tmp_path)
    with pytest.raises(ConfigError, match=r"afe\.mi_threshold=0\.5: has no effect \(afe=lasso"):
        validate_config(cfg)
    cfg = compose_train(["afe=paper", "+afe.search={rows: 1000}"], tmp_path, tmp_path)
    with pytest.raises(ConfigError, match=r"afe\.search=.*has no effect \(only the selectors"):
        validate_config(cfg)


def test_the_study_scores_plans_against_the_planted_truth(planted) -> None:
    truth = planted[1]
    copy = truth.names(REDUNDANT)[0]
    source, noise = truth.field(copy).source, truth.names(NOISE)[0]
    by_effect = sorted(truth.names(INFORMATIVE), key=lambda f: -truth.field(f).effect_var["click"])
    weakest = by_effect[-1]
    row = truth_row([source, copy, noise, weakest], truth, k=len(by_effect) - 1)
    assert row == {"informative": 2, "strongest": 1, "noise": 1, "copies": 1}
    assert truth_row([copy, noise], truth, k=4)["copies"] == 0  # a copy without its source

    def result(method: str | None, fields: int, auc: float, seed: int) -> dict:
        afe = {"variant": method, "fields": [f"C{i}" for i in range(fields)]} if method else None
        return {"afe": afe, "data": {"fields": 39}, "metrics": {"test/auc": auc}, "seed": seed,
                "costs": {"afe/fit_seconds": 1.0}}  # fmt: skip

    runs = run_rows(
        [result("lasso", 4, 0.70, 0), result("lasso", 4, 0.72, 1), result(None, 0, 0.8, 0)]
    )
    table = auc_table(runs).rows(named=True)
    assert [(r["method"], r["k"], r["runs"]) for r in table] == [
        (ALL_FIELDS, 39, 1),
        ("lasso", 4, 2),
    ]
    assert table[1]["test_auc"] == pytest.approx(0.71)


# Select feature crosses (their papers); the plan keeps the fields of the best-ranked crosses.
CROSS_METHODS = ("tayfcs", "idarts")


def composed_search(method: str, tmp_path: Path) -> dict:
    """The ``afe.search`` node of ``afe=<method>`` as the study composes it (method overrides)."""
    cfg = compose_train([f"afe={method}"], tmp_path, tmp_path)
    return dict(afe_config(cfg.afe).search)


def test_tay_scores_sum_the_reference_loops_over_ordered_index_tuples() -> None:
    """The vectorised order-2/3 sums equal the reference's loops: every ordered tuple (i, j) and
    (i, j, k) adds ``mean |a_i a_j (a_k)|`` to the cross named by its set of fields."""
    terms = torch.randn(50, 5, generator=torch.Generator().manual_seed(0))
    a = terms.abs().double()
    brute: dict[tuple[int, ...], float] = {}
    for i in range(5):
        for j in range(5):
            key = tuple(sorted({i, j}))
            if len(key) > 1:
                brute[key] = brute.get(key, 0.0) + float((a[:, i] * a[:, j]).mean())
            for k in range(5):
                key = tuple(sorted({i, j, k}))
                if len(key) > 1:
                    brute[key] = brute.get(key, 0.0) + float((a[:, i] * a[:, j] * a[:, k]).mean())
    fast = tay_scores(terms)
    assert fast.keys() == brute.keys()
    assert all(fast[c] == pytest.approx(brute[c], rel=1e-9) for c in brute)


def test_a_field_scores_its_first_cross_in_the_ranking() -> None:
    ranked = rank_crosses({(0, 1): 0.5, (1, 2): 0.9, (0, 2, 3): 0.7, (2, 3): 0.9})
    assert ranked[:2] == [((1, 2), 0.9), ((2, 3), 0.9)]  # ties: by field indices
    assert first_appearance(["a", "b", "c", "d"], ranked) == {
        "a": 0.7,
        "b": 0.9,
        "c": 0.9,
        "d": 0.9,
    }
    with pytest.raises(ValueError, match=r"fields \['d'\] appear in no ranked cross"):
        first_appearance(["a", "b", "c", "d"], rank_crosses({(0, 1): 1.0, (1, 2): 0.5}))


@pytest.mark.parametrize("method", CROSS_METHODS)
def test_cross_methods_record_ranked_crosses_and_are_seeded(method: str, planted) -> None:
    data = planted[0]
    plan = fit(data, method, 6, **TINY)
    crosses = plan.fitted_on["crosses"]
    assert [c["score"] for c in crosses] == sorted((c["score"] for c in crosses), reverse=True)
    # TayFCS: LRE's eliminated crosses leave the cross ranking, not the fields' (module doc)
    eliminated = plan.fitted_on.get("eliminated", [])
    ranking = sorted(crosses + eliminated, key=lambda c: -c["score"])
    for planned in plan.fields:  # the plan's fields: first appearance in the ranked crosses
        first = next(c for c in ranking if planned.name in c["fields"])
        assert planned.score == first["score"]
    gone = {tuple(c["fields"]) for c in eliminated}
    assert not gone & {tuple(c["fields"]) for c in crosses}
    forget_rankings(data)
    again = fit(data, method, 6, **TINY)
    assert again.fields == plan.fields and again.fitted_on["crosses"] == crosses
    assert not again.fitted_on["scores_reused"]
    other = fit(data, method, 6, seed=1, **TINY)
    assert other.fitted_on["crosses"] != crosses


@pytest.mark.parametrize("method", CROSS_METHODS)
def test_cross_methods_refuse_more_fields_than_the_data_has(method: str, planted) -> None:
    with pytest.raises(ConfigError, match=r"afe\.num_fields=40 \(allowed: null or 1\.\.39"):
        fit(planted[0], method, 40)


@pytest.mark.slow
@pytest.mark.parametrize("method", CROSS_METHODS)
def test_a_field_of_every_planted_pair_ranks_above_all_noise(method, planted, tmp_path) -> None:
    """Each planted pair carries a joint effect of logit variance ~0.16 -- more than all but three
    main effects -- and a noise field none, so a method that scores crosses must rank at least one
    field of every planted pair above every noise field; at k = 12 it keeps at most 2 noise
    fields (the bound of the field selectors above). IDARTS, which weighs interactions proper,
    also ranks every planted pair among its 10 best of 741 pairs. Search as the study composes
    it."""
    data, truth = planted
    plan = fit(data, method, 12, **composed_search(method, tmp_path))
    ranking = [*plan.field_names, *(d["field"] for d in plan.dropped)]
    first_noise = min(ranking.index(f) for f in truth.names(NOISE))
    for pair in truth.interactions:
        best = min(ranking.index(f) for f in pair.fields)
        assert best < first_noise, f"pair {pair.fields}: best rank {best}, noise from {first_noise}"
    assert len(set(plan.field_names) & set(truth.names(NOISE))) <= 2
    if method == "idarts":  # it scores interactions proper: the planted pairs lead its crosses
        top = {frozenset(c["fields"]) for c in plan.fitted_on["crosses"][:10]}
        assert all(frozenset(p.fields) in top for p in truth.interactions), top
