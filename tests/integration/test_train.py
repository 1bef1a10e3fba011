"""End to end: Hydra config -> data -> model -> fit -> test -> costs -> results.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reaction.metrics import keys
from reaction.train import train
from tests.conftest import CONF_DIR, SMALL_ROWS

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
REQUIRED_COSTS = (
    keys.PARAMS_TOTAL,
    keys.PARAMS_EMBEDDING,
    keys.PARAMS_DENSE,
    keys.FLOPS_PER_SAMPLE,
    keys.EMBEDDING_BYTES_PER_SAMPLE,
    keys.LATENCY_MS_PER_BATCH,
    keys.LATENCY_BATCH_SIZE,
    keys.THROUGHPUT,
    keys.TRAIN_SAMPLES_PER_S,
)


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
    assert (
        results["model"]
        == yaml.safe_load((CONF_DIR / "model" / f"{model}.yaml").read_text())["name"]
    )
    assert 0.0 <= results["metrics"][keys.TEST_AUC] <= 1.0


def test_wandb_offline_run_records_config_metrics_and_costs(train_cfg, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = train_cfg("model=lr", "logger=wandb", "seed=7")
    train(cfg)
    run_dirs = list(Path(cfg.paths.output_dir).glob("wandb/offline-run-*/files"))
    assert len(run_dirs) == 1
    summary = json.loads((run_dirs[0] / "wandb-summary.json").read_text())
    assert 0.5 < summary[keys.TEST_AUC] < 1.0 and summary[keys.PARAMS_TOTAL] > 0
    config = yaml.safe_load((run_dirs[0] / "config.yaml").read_text())
    assert config["seed"]["value"] == 7
    assert config["model"]["value"]["name"] == "lr"


def test_console_script_honours_hydra_run_dir(data_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "cli_run"
    command = [
        sys.executable,
        "-m",
        "reaction.train",
        "model=lr",
        "logger=none",
        "debug=fast_dev_run",
        f"paths.data_dir={data_dir}",
        f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}",
        f"hydra.run.dir={run_dir}",
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["model"] == "lr" and results["config"]["paths"]["output_dir"] == str(run_dir)
