"""W&B organisation, read back from an offline run file: group, job type, tags, the summary
table's run name, summary keys and the two artifacts a team compares sweeps by."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import OmegaConf

from reaction.afe import PLAN_FILE
from reaction.cli.train import train
from reaction.metrics import keys
from reaction.runs.labels import run_label
from reaction.tracking.loggers import BEST_VAL_AUC
from tests.wandb_records import read_run


def test_offline_run_file_holds_organisation_summary_and_artifacts(
    train_cfg, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))  # artifact staging, not ~
    cfg = train_cfg(
        "model=dnn",
        "model.net.hidden_units=[32]",
        "afe=paper",
        "afe.null_permutations=20",
        "logger=wandb",
        "experiment_name=wandb_org",
        "seed=2",
    )
    results = train(cfg)
    (run_file,) = Path(cfg.paths.output_dir).glob("wandb/offline-run-*/run-*.wandb")
    run = read_run(run_file)
    run_id = run["run"].pop("id")

    assert run["run"] == {
        "project": "reaction",
        "group": "wandb_org",
        "name": f"{run_label(results)}-s2",
        "tags": ["data:synthetic", "model:dnn", "afe:paper", "fusion:none", "seed:2"],
        "job_type": "train",
    }
    assert run["run"]["name"] == "dnn+afe:paper-s2"
    assert (run["config"]["seed"], run["config"]["afe"]["variant"]) == (2, "paper")
    assert run["config"]["fingerprints"]["afe_plan"] == results["afe"]["fingerprint"]
    summary, metrics, costs = run["summary"], results["metrics"], results["costs"]
    assert summary[BEST_VAL_AUC] == pytest.approx(metrics[keys.VAL_AUC])
    for key in (keys.TEST_AUC, keys.TEST_LOGLOSS):
        assert summary[key] == pytest.approx(metrics[key])
    for key in (keys.PARAMS_TOTAL, keys.LATENCY_MS_PER_BATCH, keys.AFE_EMBEDDING_CUT):
        assert summary[key] == pytest.approx(costs[key])

    artifacts = {a["type"]: a for a in run["artifacts"]}
    assert len(run["artifacts"]) == 2
    plan, model = artifacts["afe_plan"], artifacts["model"]
    assert plan["name"] == f"afe_plan-{run_id}" and plan["files"] == [PLAN_FILE]
    assert plan["metadata"]["fingerprint"] == results["afe"]["fingerprint"]
    assert model["name"] == f"model-{run_id}"
    (best,) = (Path(cfg.paths.output_dir) / "checkpoints").glob("epoch*.ckpt")  # not last.ckpt
    assert model["files"] == sorted([best.name, "results.json"])
    assert model["metadata"]["metrics"][keys.TEST_AUC] == pytest.approx(metrics[keys.TEST_AUC])


def test_multi_tower_runs_are_named_and_tagged_by_fusion_and_sweeps_by_job_type(
    train_cfg, monkeypatch
) -> None:
    logger = instantiate(train_cfg("model=reaction", "logger=wandb", "seed=1").logger.wandb)
    init = logger._wandb_init  # wandb.init's arguments; no run is started here
    assert init["name"] == "reaction+afe:paper+fusion:cosinex2-s1"
    assert init["tags"] == [
        "data:synthetic",
        "model:reaction",
        "afe:paper",
        "fusion:cosine",
        "seed:1",
    ]
    assert init["job_type"] == "train"

    multirun = OmegaConf.create({"hydra": {"mode": RunMode.MULTIRUN}})
    monkeypatch.setattr(HydraConfig.instance(), "cfg", multirun)  # as inside a --multirun job
    logger = instantiate(train_cfg("model=lr", "fusion=kd", "logger=wandb").logger.wandb)
    assert logger._wandb_init["job_type"] == "sweep"
    # any single-tower model can be distilled now: its fusion is part of its name
    assert logger._wandb_init["name"] == "lr+fusion:kd-s0"
    assert "fusion:kd" in logger._wandb_init["tags"]
