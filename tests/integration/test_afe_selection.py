"""The paper's AFE selector against the synthetic planted truth, and the plan's train-only fit."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hydra.utils import instantiate

from reaction.afe.config import AFEConfig
from reaction.afe.fit import fit_for_data
from reaction.afe.plan import AFEPlan
from reaction.data.preprocess import PreprocessedData
from reaction.data.synthetic_truth import CONVERSION_ONLY, INFORMATIVE, LONG_TAIL, NOISE, REDUNDANT
from tests.conftest import compose_train

TRUTH_ROWS = 200_000  # the feature-report tests' data (generated once per session)
PAPER = AFEConfig(variant="paper", null_permutations=50)


@pytest.fixture(scope="module")
def two_label_data(data_dir: Path, tmp_path_factory) -> tuple[PreprocessedData, object]:
    cfg = compose_train(
        [
            f"data.datamodule.raw_source.config.num_rows={TRUTH_ROWS}",
            "data.datamodule.raw_source.config.conversion=true",
        ],
        tmp_path_factory.mktemp("afe_run"),
        data_dir,
    )
    datamodule = instantiate(cfg.data.datamodule)
    datamodule.prepare_and_setup()
    return datamodule.data, datamodule.raw_source.truth


@pytest.fixture(scope="module")
def plan(two_label_data) -> AFEPlan:
    return fit_for_data(PAPER, two_label_data[0], embedding_dim=16)


def test_picks_every_informative_field_and_no_noise(plan: AFEPlan, two_label_data) -> None:
    truth = two_label_data[1]
    chosen = set(plan.field_names)
    informative = set(truth.names(INFORMATIVE)) | set(truth.names(CONVERSION_ONLY))
    assert informative <= chosen, f"missed {informative - chosen}"
    noise = set(truth.names(NOISE))
    assert not chosen & noise, f"picked noise {chosen & noise}"
    # what it calls noise is planted noise, or a long-tail field whose 30 head values are too
    # weak to clear the null level on 160k rows
    called_noise = {d["field"] for d in plan.dropped if d["reason"] == "noise"}
    assert called_noise <= noise | set(truth.names(LONG_TAIL))


def test_never_picks_a_redundant_copy_beside_its_source(plan: AFEPlan, two_label_data) -> None:
    truth = two_label_data[1]
    chosen = set(plan.field_names)
    dropped = {d["field"]: d for d in plan.dropped}
    for copy in truth.names(REDUNDANT):
        source = truth.field(copy).source
        assert not (copy in chosen and source in chosen), f"{copy} picked with its source {source}"
        assert dropped[copy]["reason"] == "redundant" and dropped[copy]["with"] == source


def test_conversion_only_fields_are_picked_through_their_own_label(plan, two_label_data) -> None:
    """With two labels PI sums both: a field that only predicts conversion still enters."""
    truth = two_label_data[1]
    by_name = {f.name: f for f in plan.fields}
    for name in truth.names(CONVERSION_ONLY):
        assert name in by_name
        assert by_name[name].bi != 0.0  # BI is live with two labels


def test_without_the_guard_the_formula_picks_copies(two_label_data) -> None:
    """Why the guard exists: CI's 1/|S| average lets a copy through (J ~ PI (1 - 1/|S|))."""
    data, truth = two_label_data
    verbatim = fit_for_data(replace(PAPER, redundancy_guard=False), data, embedding_dim=16)
    assert set(truth.names(REDUNDANT)) & set(verbatim.field_names)


def test_budget_and_threshold_stop_the_selection(two_label_data) -> None:
    data, _ = two_label_data
    budget = fit_for_data(replace(PAPER, num_fields=5), data, embedding_dim=16)
    assert len(budget.fields) == 5
    assert sum(d["reason"] == "budget" for d in budget.dropped) > 0
    strict = fit_for_data(replace(PAPER, mi_threshold=0.01), data, embedding_dim=16)
    stop = next(d for d in strict.dropped if d["reason"] == "below_threshold")
    assert all(f.j >= stop["stop_J"] for f in strict.fields) and stop["J"] < stop["stop_J"]


def _corrupt_split(path: Path) -> None:
    """Shuffle the labels of a split (no field informs them any more), row groups kept."""
    parquet = pq.ParquetFile(path)
    table = parquet.read()
    rng = np.random.default_rng(1)
    for name in ("click", "conversion"):
        shuffled = pa.array(rng.permutation(table.column(name).to_numpy()))
        table = table.set_column(table.schema.get_field_index(name), name, shuffled)
    pq.write_table(table, path, row_group_size=parquet.metadata.row_group(0).num_rows)


def test_plan_reads_the_training_split_only(plan, two_label_data, tmp_path: Path) -> None:
    data, _ = two_label_data
    copy = tmp_path / "cache"
    shutil.copytree(data.root, copy)
    for split in ("val", "test"):
        _corrupt_split(copy / f"{split}.parquet")
    refit = fit_for_data(PAPER, PreprocessedData(copy, data.feature_map), embedding_dim=16)
    assert refit.fingerprint() == plan.fingerprint()
    _corrupt_split(copy / "train.parquet")  # the control: the train split does matter
    changed = fit_for_data(PAPER, PreprocessedData(copy, data.feature_map), embedding_dim=16)
    assert changed.fingerprint() != plan.fingerprint()
