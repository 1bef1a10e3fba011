"""``reaction-analyze`` end to end, and the feature report against the synthetic planted truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from PIL import Image
from scipy.stats import spearmanr

from reaction.cli.analyze import ANALYSIS_FILE, FEATURE_JSON, FEATURE_MD, analyze
from reaction.data.synthetic import GroundTruth
from reaction.data.synthetic_truth import CONVERSION_ONLY, NOISE, REDUNDANT
from tests.conftest import CONF_DIR, SMALL_ROWS
from tests.wandb_records import read_run

TRUTH_ROWS = 200_000  # 160k training rows: enough for the weakest planted effects
PNGS = ("su_heatmap.png", "relevance_click.png", "retention_click.png")


def compose_analyze(overrides: list[str], output_dir: Path, data_dir: Path) -> DictConfig:
    """Compose ``conf/analyze.yaml`` as ``reaction-analyze`` would, with run/data dirs in tmp."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "analyze",
            overrides=[f"paths.data_dir={data_dir}", f"paths.log_dir={output_dir}", *overrides],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


@pytest.fixture(scope="module")
def truth_run(data_dir: Path, tmp_path_factory) -> tuple[dict[str, Any], GroundTruth, Path]:
    """One feature report on two-label synthetic data, shared by the planted-truth tests."""
    out = tmp_path_factory.mktemp("analyze_truth")
    overrides = [
        f"data.datamodule.raw_source.config.num_rows={TRUTH_ROWS}",
        "data.datamodule.raw_source.config.conversion=true",
        "logger=none",
    ]
    cfg = compose_analyze(overrides, out, data_dir)
    analyze(cfg)
    source = instantiate(cfg.data.datamodule.raw_source)  # reuses the generated data
    return json.loads((out / FEATURE_JSON).read_text()), source.truth, out


def _entries(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["field"]: e for e in report["fields"]}


def test_run_writes_parseable_json_markdown_and_pngs(truth_run) -> None:
    report, _, out = truth_run
    index = json.loads((out / ANALYSIS_FILE).read_text())
    assert index["mode"] == "feature" and index["summary"]["analyze/rows"] == report["rows"]
    assert report["labels"] == ["click", "conversion"] and len(report["fields"]) == 42
    markdown = (out / FEATURE_MD).read_text()
    assert markdown.count("| C5 |") == 2 and "## conversion" in markdown
    for name in (*PNGS, "relevance_conversion.png", "retention_conversion.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG" and min(image.size) > 100
    retention = _entries(report)["C5"]["labels"]["click"]["retention"]
    assert retention["share"][-1] == pytest.approx(1.0) and retention["values"][0] == 1
    assert not report["pairs"]["sample"]["sampled"]  # 160k rows < the 200k sample


@pytest.mark.parametrize("label", ["click", "conversion"])
def test_relevance_ranks_like_the_planted_effects(truth_run, label: str) -> None:
    """True relevance: the variance of the field's own logit term (``effect_var``).

    For small effects ``I(X;Y) ~ p(1-p) Var(E[logit | X]) / 2`` (second-order expansion of the
    KL in ``I = E_x KL(p(y|x) || p(y))``), so the MI of a directly informative field is monotone
    in that variance. Only fields with a direct effect on the label are ranked: copies and
    interaction-only effects have no ``effect_var`` of their own.
    """
    report, truth, _ = truth_run
    entries = _entries(report)
    fields = truth.informative(label)
    true = [truth.field(f).effect_var[label] for f in fields]
    estimated = [entries[f]["labels"][label]["mi"] for f in fields]
    rho = spearmanr(true, estimated).statistic
    assert rho >= 0.9, (label, rho)


def test_pure_noise_fields_are_at_or_below_their_null_level(truth_run) -> None:
    report, truth, _ = truth_run
    entries = _entries(report)
    for label in report["labels"]:
        noise = truth.names(role=NOISE)
        noise += truth.names(role=CONVERSION_ONLY) if label == "click" else []
        for name in noise:
            own = entries[name]["labels"][label]
            assert own["mi"] <= own["null_mi"] and own["verdict"] == "noise", (label, name, own)


def test_planted_copies_are_redundant_with_their_source(truth_run) -> None:
    report, truth, _ = truth_run
    entries = _entries(report)
    copies = [truth.field(name) for name in truth.names(role=REDUNDANT)]
    assert copies
    for copy in copies:
        assert entries[copy.name]["labels"]["click"]["verdict"] == f"redundant-with-{copy.source}"


def test_planted_interactions_are_the_top_synergy_pairs(truth_run) -> None:
    report, truth, _ = truth_run
    planted = {frozenset(i.fields) for i in truth.interactions}
    top = [frozenset(p["fields"]) for p in report["pairs"]["top_synergy"]["click"]]
    assert planted <= set(top[: 2 * len(planted)]), top


def _run_cli(run_dir: Path, data_dir: Path, *overrides: str) -> None:
    command = [
        sys.executable,
        "-m",
        "reaction.cli.analyze",
        f"paths.data_dir={data_dir}",
        f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}",
        f"hydra.run.dir={run_dir}",
        *overrides,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)


def test_console_script_writes_the_report_and_csv_logs(data_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "cli"
    _run_cli(
        run_dir, data_dir, "logger=csv", "feature.labels=[click]", "feature.pair_sample_rows=5000"
    )
    report = json.loads((run_dir / FEATURE_JSON).read_text())
    assert report["pairs"]["sample"] == {
        "sampled": True,
        "rows": 5000,
        "of_rows": report["rows"],
        "seed": 0,
    }
    assert "uniform sample of 5,000" in (run_dir / FEATURE_MD).read_text()
    assert all((run_dir / name).stat().st_size > 0 for name in PNGS)
    assert (next(run_dir.glob("csv/*/metrics.csv")).read_text()).startswith("analyze/")


def test_wandb_offline_run_holds_the_tables_and_images(data_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_analyze(
        [f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}", "logger=wandb", "seed=2"],
        tmp_path,
        data_dir,
    )
    analyze(cfg)
    run_file = next(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))
    run = read_run(run_file)
    assert run["run"]["name"] == "feature-synthetic-s2" and run["run"]["job_type"] == "analyze"
    summary = run["summary"]  # nested W&B values are flattened to "key/field"
    assert summary["analyze/feature_click/_type"] == "table-file"
    assert summary["analyze/feature_click/nrows"] == 39
    assert summary["analyze/su_heatmap/_type"] == "images/separated"
    assert summary["analyze/click/noise"] >= 1


def test_unknown_label_or_mode_is_rejected(data_dir: Path, tmp_path: Path) -> None:
    base = [f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}", "logger=none"]
    with pytest.raises(ValueError, match="clicks"):
        analyze(compose_analyze([*base, "feature.labels=[clicks]"], tmp_path, data_dir))
    with pytest.raises(ValueError, match="spectral"):
        analyze(compose_analyze([*base, "mode=spectral"], tmp_path, data_dir))
