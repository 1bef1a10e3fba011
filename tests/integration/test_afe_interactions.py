"""AFE with interaction evidence (``afe.interactions=crossfit``) on sampled-negative data: user
and context fields have zero marginal MI by construction and must still be kept, planted noise
dropped (with its interaction z-scores as the reason), the item's copy caught."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hydra.utils import instantiate

from reaction.afe.config import AFEConfig
from reaction.afe.fit import afe_config, fit_for_data
from reaction.data.synthetic_truth import INTERACTION_ONLY, NOISE, REDUNDANT
from tests.conftest import compose_train

ROWS = 150_000
CROSSFIT = AFEConfig(variant="paper", null_permutations=50, interactions="crossfit")


@pytest.fixture(scope="module")
def recsys_data(data_dir: Path, tmp_path_factory):
    cfg = compose_train(
        ["data=synthetic_recsys", f"data.datamodule.raw_source.config.num_rows={ROWS}"],
        tmp_path_factory.mktemp("recsys_run"),
        data_dir,
    )
    datamodule = instantiate(cfg.data.datamodule)
    datamodule.prepare_and_setup()
    return datamodule.data, datamodule.raw_source.truth


def _dropped(plan) -> dict[str, dict]:
    return {d["field"]: d for d in plan.dropped}


def test_keeps_interaction_only_fields_and_drops_noise_and_the_copy(recsys_data) -> None:
    data, truth = recsys_data
    plan = fit_for_data(CROSSFIT, data, embedding_dim=16)
    chosen, dropped = set(plan.field_names), _dropped(plan)
    assert {"item", *truth.names(INTERACTION_ONLY)} <= chosen
    for name in truth.names(NOISE):
        assert dropped[name]["reason"] == "noise"
        assert max(dropped[name]["interaction_z"].values()) <= CROSSFIT.interaction_z
    (copy,) = truth.names(REDUNDANT)
    assert dropped[copy]["reason"] == "redundant" and dropped[copy]["with"] == "item"


def test_the_papers_filter_calls_them_noise(recsys_data) -> None:
    """The failure being fixed: with interactions off, the marginal null drops user/context."""
    data, truth = recsys_data
    plan = fit_for_data(replace(CROSSFIT, interactions="off"), data, embedding_dim=16)
    dropped = _dropped(plan)
    for name in truth.names(INTERACTION_ONLY):
        assert dropped[name]["reason"] == "noise" and "interaction_z" not in dropped[name]


def test_paper_config_defaults_to_crossfit_and_off_reads_no_interaction_keys() -> None:
    assert AFEConfig(variant="paper").interactions == "crossfit"
    off = AFEConfig(variant="paper", interactions="off", interaction_z=5.0)
    assert "interaction_z" in off.unread_keys()
    assert "interaction_z" not in AFEConfig(variant="paper", interaction_z=5.0).unread_keys()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("interactions", "model", r"interactions='model' \(allowed: off, crossfit\)"),
        ("interaction_partners", 0, r"interaction_partners=0 \(allowed: >= 1\)"),
        ("interaction_z", -1.0, r"interaction_z=-1.0 \(allowed: >= 0\)"),
        ("interaction_shrinkage", 0.0, r"interaction_shrinkage=0.0 \(allowed: > 0\)"),
    ],
)
def test_bad_interaction_values_are_refused(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        afe_config({"variant": "paper", key: value})
