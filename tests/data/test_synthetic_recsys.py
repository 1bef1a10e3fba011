"""The generator's recommender mode (sampled negatives): zero marginal MI for user and context
fields, a planted interaction with the item, roles in the ground truth, strict config values,
and the CTR data left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from reaction.data.sources.synthetic import SyntheticSource
from reaction.data.synthetic import GroundTruth, SyntheticConfig, generate
from reaction.data.synthetic_truth import (
    INFORMATIVE,
    INTERACTION_ONLY,
    NOISE,
    RECOMMENDER_KEYS,
    REDUNDANT,
)
from reaction.info.counts import RowSample
from reaction.info.crossfit import crossfit_conditional_information
from reaction.info.estimators import mutual_information
from reaction.info.permutation import permutation_null

RECSYS = SyntheticConfig(
    num_rows=90_000,
    negative_ratio=2,
    num_users=300,
    num_items=60,
    num_contexts=2,
    num_noise=2,
    num_redundant=1,
    chunk_rows=30_000,
    row_group_rows=8_192,
)


@pytest.fixture(scope="module")
def recsys(tmp_path_factory: pytest.TempPathFactory) -> tuple[GroundTruth, RowSample]:
    out = tmp_path_factory.mktemp("recsys")
    truth = generate(RECSYS, out)
    table = pq.read_table(out / "train.parquet")
    names = tuple(f.name for f in truth.fields)
    ids = [np.unique(table.column(n).to_numpy(zero_copy_only=False), return_inverse=True)[1]
           for n in names]  # fmt: skip
    labels = table.column("click").to_numpy().astype(np.int64)
    sample = RowSample(names, ("click",), np.stack(ids, 1), labels, len(labels), 0)
    return truth, sample


def _table(sample: RowSample, name: str) -> np.ndarray:
    codes = sample.codes(name)[1]
    return np.bincount(codes * 2 + sample.label("click")).reshape(-1, 2)


def test_roles_rates_and_bayes_auc_are_recorded(recsys) -> None:
    truth, sample = recsys
    assert truth.names(INTERACTION_ONLY) == ["user", "context1", "context2"]
    assert truth.names(INFORMATIVE) == ["item"]
    assert truth.names(NOISE) == ["noise1", "noise2"]
    assert truth.names(REDUNDANT) == ["item_copy"] and truth.field("item_copy").source == "item"
    assert {i.fields for i in truth.interactions} == {
        ("user", "item"), ("context1", "item"), ("context2", "item")
    }  # fmt: skip
    assert set(truth.informative()) == {"user", "item", "context1", "context2"}
    assert truth.labels["click"].target_rate == pytest.approx(1 / 3)
    assert abs(sample.label("click").mean() - 1 / 3) < 0.01
    assert truth.bayes_auc["click"]["test"] > 0.8


def test_user_and_context_carry_no_marginal_information(recsys) -> None:
    """Every user/context value has the click rate 1/3 (up to the random split): their MI is
    within the permutation null, while the item's is far above it."""
    truth, sample = recsys
    for name in ["user", "context1", "context2", *truth.names(NOISE)]:
        table = _table(sample, name)
        null = permutation_null(table, 50, 0.99, seed=0, correction="miller_madow")
        assert mutual_information(table, "miller_madow") <= null, name
    item = _table(sample, "item")
    assert mutual_information(item, "miller_madow") > 20 * permutation_null(item, 50)


def test_the_interaction_with_the_item_is_planted(recsys) -> None:
    truth, sample = recsys
    for name in truth.names(INTERACTION_ONLY):
        assert crossfit_conditional_information(sample, name, "item").z > 5, name
    for name in truth.names(NOISE):
        assert crossfit_conditional_information(sample, name, "item").z < 2, name


def test_the_ctr_data_and_its_fingerprint_are_unchanged() -> None:
    """The mode is off by default and its keys are not recorded then: existing configs keep
    their folder (this digest is the one before the mode existed) and ground truth."""
    assert not SyntheticConfig().recommender
    assert not set(RECOMMENDER_KEYS) & set(SyntheticConfig().semantic_dict())
    assert SyntheticSource("/x", SyntheticConfig()).out_dir == Path("/x/synthetic-1008e50483f3")
    assert set(RECOMMENDER_KEYS) <= set(RECSYS.semantic_dict())


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("negative_ratio", -1, r"negative_ratio=-1 \(allowed: >= 0\)"),
        ("num_users", 1, r"num_users=1 \(allowed: >= 2\)"),
        ("num_items", 0, r"num_items=0 \(allowed: >= 2\)"),
        ("num_contexts", -1, r"num_contexts=-1 \(allowed: >= 0\)"),
        ("user_strength", -0.5, r"user_strength=-0.5 \(allowed: >= 0\)"),
        ("context_strength", -1.0, r"context_strength=-1.0 \(allowed: >= 0\)"),
        ("conversion", True, "conversion=true needs negative_ratio=0"),
        ("num_redundant", 3, r"num_redundant=3 with negative_ratio > 0 \(allowed: 0-2"),
    ],
)
def test_bad_recommender_values_are_refused(key: str, value: object, message: str) -> None:
    settings = {"negative_ratio": 2, "num_redundant": 1, key: value}
    with pytest.raises(ValueError, match=message):
        SyntheticConfig(**settings)
