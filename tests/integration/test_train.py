"""End to end: Hydra config -> data -> model -> fit -> test -> costs -> results.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reaction.cli.train import train
from reaction.metrics import keys
from tests.conftest import CONF_DIR, SMALL_ROWS
from tests.wandb_records import read_run

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
REQUIRED_COSTS = (*keys.SERVING_COST_KEYS, keys.TRAIN_SAMPLES_PER_S)


def test_run_writes_results_json_with_the_documented_schema(train_cfg) -> None:
    cfg = train_cfg("model=dnn", "seed=3")
    train(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert (results["model"], results["dataset"], results["seed"]) == ("dnn", "synthetic", 3)
    for key in (keys.VAL_AUC, keys.TEST_AUC, keys.TEST_LOGLOSS):
        assert 0.5 < results["metrics"][key] < 1.0 if "auc" in key else results["metrics"][key] > 0
    for key in REQUIRED_COSTS:
        assert results["costs"][key] > 0, key
    assert results["costs"][keys.LATENCY_BATCH_SIZE] == 4096
    rows = [results["data"][k] for k in (keys.ROWS_TRAIN, keys.ROWS_VAL, keys.ROWS_TEST)]
    assert sum(rows) == SMALL_ROWS and min(rows) > 0
    assert 0.7 < results["data"][keys.BAYES_AUC] < 0.9
    assert results["config"]["model"]["net"]["_target_"].endswith("DNN")
    params = results["costs"]
    assert params[keys.PARAMS_TOTAL] == params[keys.PARAMS_EMBEDDING] + params[keys.PARAMS_DENSE]


@pytest.mark.parametrize("model", MODELS)
def test_every_model_config_runs_fast_dev_run(train_cfg, model: str) -> None:
    results = train(train_cfg(f"model={model}", "debug=fast_dev_run"))
    node = yaml.safe_load((CONF_DIR / "model" / f"{model}.yaml").read_text())
    assert results["model"] == node.get("model", node)["name"]  # global-package files nest it
    assert 0.0 <= results["metrics"][keys.TEST_AUC] <= 1.0


def test_wandb_offline_run_records_config_metrics_and_costs(
    train_cfg, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))  # artifact staging, not ~
    cfg = train_cfg("model=lr", "logger=wandb", "seed=7", "trainer.log_every_n_steps=5")
    results = train(cfg)
    run_files = list(Path(cfg.paths.output_dir).glob("wandb/offline-run-*/run-*.wandb"))
    assert len(run_files) == 1
    run = read_run(run_files[0])
    assert {k: v for k, v in run["run"].items() if k != "id"} == {
        "project": "reaction",
        "group": "default",
        "name": "lr-s7",
        "tags": ["data:synthetic", "model:lr", "afe:none", "fusion:none", "seed:7"],
        "job_type": "train",
    }
    assert run["config"]["seed"] == 7 and run["config"]["model"]["name"] == "lr"
    assert run["config"]["fingerprints"]["feature_map"] == results["data"]["feature_map"]
    for key in (keys.TEST_AUC, keys.VAL_AUC, *REQUIRED_COSTS):
        assert run["summary"][key] == pytest.approx({**results["metrics"], **results["costs"]}[key])
    assert any(keys.TRAIN_LOSS in step for step in run["history"])


def _run_cli(run_dir: Path, data_dir: Path, *overrides: str) -> dict:
    """``python -m reaction.cli.train`` (what the console script runs) on the small data."""
    command = [
        sys.executable,
        "-m",
        "reaction.cli.train",
        "logger=none",
        "~callbacks.progress_bar",
        f"paths.data_dir={data_dir}",
        f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}",
        f"hydra.run.dir={run_dir}",
        *overrides,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return json.loads((run_dir / "results.json").read_text())


def test_console_script_honours_hydra_run_dir(data_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "cli_run"
    results = _run_cli(run_dir, data_dir, "model=lr", "debug=fast_dev_run")
    assert results["model"] == "lr" and results["config"]["paths"]["output_dir"] == str(run_dir)


@pytest.mark.parametrize(
    ("logger", "pattern"), [("csv", "csv/*/metrics.csv"), ("tensorboard", "tensorboard/*/events.*")]
)
def test_file_loggers_write_their_logs(train_cfg, logger: str, pattern: str) -> None:
    cfg = train_cfg("model=lr", f"logger={logger}", "debug=fast_dev_run")
    train(cfg)
    assert list(Path(cfg.paths.output_dir).glob(pattern)), pattern
