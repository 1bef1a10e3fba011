"""``reaction-preprocess`` and the file-backed data configs end to end (tiny files, CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from reaction.cli.preprocess import REPORT_FILE, preprocess
from reaction.cli.train import train
from reaction.data.formats.aliccp import DENSE, SPARSE
from reaction.data.formats.bad_rows import BadInputError
from tests.conftest import CONF_DIR, compose_train
from tests.data.format_files import CRITEO_ROW_1, CRITEO_ROW_2, write_lines

DATASETS = ("criteo", "avazu", "movielens", "frappe", "kdd12", "aliccp", "tabular")


def compose_preprocess(overrides: list[str], run_dir: Path, data_dir: Path) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("preprocess", overrides=[f"paths.data_dir={data_dir}", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
    return cfg


@pytest.fixture
def criteo_file(tmp_path: Path) -> Path:
    rows = [CRITEO_ROW_1, CRITEO_ROW_2] * 20
    rows[2] = "1\tseven" + "\t" * 38
    return write_lines(tmp_path / "raw" / "train.txt", rows)


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_data_config_composes_and_instantiates(tmp_path: Path, dataset: str) -> None:
    extra = [f"data.schema={tmp_path}/s.yaml"] if dataset == "tabular" else []
    (tmp_path / "s.yaml").write_text("labels: [y]\ncategorical: [a]\n")
    cfg = compose_train([f"data={dataset}", "data.path=x", *extra], tmp_path, tmp_path)
    source = instantiate(cfg.data.datamodule).raw_source
    assert source.options.on_bad_rows == "error" and source.path == Path("x")
    assert source.root == tmp_path / "cache" / "ingest"


def test_preprocess_json_reports_rows_skips_and_vocabularies(
    criteo_file: Path, tmp_path: Path
) -> None:
    overrides = ["data=criteo", f"data.path={criteo_file}", "data.on_bad_rows=skip"]
    cfg = compose_preprocess(overrides, tmp_path / "run", tmp_path / "data")
    payload = preprocess(cfg)
    assert json.loads((tmp_path / "run" / REPORT_FILE).read_text()) == payload
    assert (payload["rows_read"], payload["rows_kept"], payload["rows_skipped"]) == (40, 39, 1)
    assert payload["first_skipped"] == [f"{criteo_file}:3: column 'I1': 'seven' is not a number"]
    assert sum(payload["rows"].values()) == 39
    assert len(payload["vocab_sizes"]) == 39 and payload["vocab_sizes"]["C1"] == 2 + 2
    assert Path(payload["output"]).parent == tmp_path / "data" / "cache"
    assert (Path(payload["output"]) / "train.parquet").is_file()
    assert payload["input"]["files"][0]["skipped_by_kind"] == {"not_a_number": 1}
    assert payload["peak_rss_mb"] > 0 and payload["labels"] == ["click"]


def test_preprocess_error_policy_names_file_and_line(criteo_file: Path, tmp_path: Path) -> None:
    cfg = compose_preprocess(
        ["data=criteo", f"data.path={criteo_file}"], tmp_path / "run", tmp_path / "data"
    )
    with pytest.raises(BadInputError, match=rf"{criteo_file}:3: column 'I1': 'seven'"):
        preprocess(cfg)
    assert not (tmp_path / "run" / REPORT_FILE).exists()


def test_console_script_writes_preprocess_json(criteo_file: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "DIR"
    script = Path(sys.executable).with_name("reaction-preprocess")
    command = [str(script), "data=criteo", f"data.path={criteo_file}", "data.on_bad_rows=skip"]
    command += [f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={run_dir}"]
    subprocess.run(command, check=True, capture_output=True)
    report = json.loads((run_dir / REPORT_FILE).read_text())
    assert report["dataset"] == "criteo" and report["rows_skipped"] == 1


def aliccp_folder(folder: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Published-style train/valid/test CSVs; returns each split's (click, purchase) rows."""
    rng = np.random.default_rng(seed)
    header = ",".join(["click", "purchase", *SPARSE, *DENSE])
    labels = {}
    for name, n in (("train", 300), ("valid", 64), ("test", 64)):
        click = rng.integers(0, 2, n)
        purchase = click * rng.integers(0, 2, n)
        lines = [header]
        for c, p in zip(click, purchase, strict=True):
            sparse = [str(rng.integers(0, 5)) for _ in SPARSE]
            dense = [f"{rng.random():.4f}" for _ in DENSE]
            lines.append(",".join([str(c), str(p), *sparse, *dense]))
        lines.insert(2, "1,1" + ",x" * (len(SPARSE) + len(DENSE) - 1))  # one field short
        write_lines(folder / f"{name}.csv", lines)
        labels[name] = np.stack([click, purchase], axis=1).astype(np.float32)
    return labels


def test_aliccp_two_labels_reach_batches_and_results(tmp_path: Path) -> None:
    labels = aliccp_folder(tmp_path / "aliccp")
    overrides = ["data=aliccp", f"data.path={tmp_path / 'aliccp'}", "data.on_bad_rows=skip"]
    overrides += ["model=dnn", "debug=fast_dev_run", "logger=none", "~callbacks.progress_bar"]
    cfg = compose_train(overrides, tmp_path / "run", tmp_path / "data")
    datamodule = instantiate(cfg.data.datamodule)
    datamodule.prepare_and_setup()
    assert datamodule.feature_map.labels == ("click", "conversion")
    batch = next(iter(datamodule.val_dataloader()))
    assert torch.equal(batch.labels, torch.from_numpy(labels["valid"]))
    results = train(cfg)
    assert results["data"]["input"]["rows_skipped"] == 3
    assert results["data"]["input"]["skipped_by_kind"] == {"field_count": 3}
    first = results["data"]["input"]["first_skipped"]
    assert first[0] == f"{tmp_path / 'aliccp' / 'train.csv'}:3: 32 fields, expected 33"
    assert 0.0 <= results["metrics"]["test/auc"] <= 1.0


def test_preprocess_synthetic_reports_generated_rows(tmp_path: Path) -> None:
    overrides = ["data=synthetic", "data.datamodule.raw_source.config.num_rows=3000"]
    payload = preprocess(compose_preprocess(overrides, tmp_path / "run", tmp_path / "data"))
    assert (payload["rows_read"], payload["rows_kept"], payload["rows_skipped"]) == (3000, 3000, 0)
    assert payload["first_skipped"] == [] and sum(payload["rows"].values()) == 3000
