"""``reaction-export``: tiny trained runs -> TorchScript + ONNX files that reproduce PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict
from torch import nn

from reaction.cli.export import EXPORT_FILE, export, first_test_rows
from reaction.runs.checkpoint import checkpoint_plan
from reaction.runs.load import load_run
from reaction.serving import (
    InputContract,
    OnnxModel,
    ParityError,
    TorchScriptModel,
    check_parity,
    export_net,
    measure_parity,
)
from tests.conftest import CONF_DIR, SMALL_ROWS, compose_train

TOLERANCE = 1e-5
FAST = ["+trainer.limit_train_batches=5", "+trainer.limit_val_batches=1", "cost_batch_size=64"]
RUNS = {
    "dnn": ["model=dnn"],
    "dcnv2": ["model=dcnv2"],
    "xdeepfm": ["model=xdeepfm"],  # CIN
    "autoint_plus": ["model=autoint_plus"],  # self-attention
    "fm": ["model=fm"],
    "dnn_afe": ["model=dnn", "afe=extended", "afe.subspace_dim=16", "afe.null_permutations=20"],
    # AFE paper + DTF towers: the run serves (and exports) the plan lookup + its best tower
    "reaction": ["model=reaction", "afe.null_permutations=20"],
}
WITH_AFE = {"dnn_afe", "reaction"}


def compose_export(run_dir: Path, out_dir: Path, *overrides: str) -> DictConfig:
    """``conf/export.yaml`` as ``reaction-export run_dir=...`` composes it; output in out_dir."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("export", overrides=[f"run_dir={run_dir}", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
    return cfg


def train_tiny(name: str, data_dir: Path, out: Path) -> Path:
    from reaction.cli.train import train

    base = [f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}", "logger=none"]
    base += ["trainer.max_epochs=1", "~callbacks.progress_bar", *FAST]
    train(compose_train([*base, *RUNS[name]], out, data_dir))
    return out


@pytest.fixture(scope="module", params=sorted(RUNS))
def exported(request, data_dir: Path, tmp_path_factory) -> dict[str, Any]:
    """One tiny run per model, exported with the default config into its ``export/`` dir."""
    run_dir = train_tiny(request.param, data_dir, tmp_path_factory.mktemp(request.param))
    payload = export(compose_export(run_dir, run_dir / "export"))
    return {"name": request.param, "run_dir": run_dir, "payload": payload}


def test_torchscript_and_onnx_match_pytorch_on_test_rows(exported) -> None:
    parity = exported["payload"]["parity"]
    assert parity["passed"] and parity["tolerance"] == TOLERANCE
    assert set(parity["formats"]) == {"torchscript", "onnx"}
    for numbers in parity["formats"].values():
        assert numbers["max_abs_diff"] <= TOLERANCE
        # 1 row and more rows than the 64-row example: the batch axis is dynamic both ways
        assert {"1", "1024"} <= set(numbers["per_batch"])
    assert 0 < parity["max_abs_logit"] < 100


def test_export_json_records_run_checkpoint_plan_files_and_contract(exported) -> None:
    run_dir, payload = exported["run_dir"], exported["payload"]
    on_disk = json.loads((run_dir / "export" / EXPORT_FILE).read_text())
    assert on_disk["parity"] == payload["parity"]
    assert Path(payload["checkpoint"]).parent == run_dir / "checkpoints"
    plan = checkpoint_plan(payload["checkpoint"])
    assert payload["afe_plan_fingerprint"] == (plan.fingerprint() if plan else None)
    assert (plan is not None) == (exported["name"] in WITH_AFE)
    contract = payload["contract"]
    assert contract["dtype"] == "int64" and len(contract["field_names"]) == 39
    assert contract["field_names"][:2] == ["I1", "I2"]
    for entry in payload["files"].values():
        for name, size in entry["files"].items():
            assert (run_dir / "export" / name).stat().st_size == size > 0


def test_files_reload_with_their_contract_and_serve_any_batch_size(exported) -> None:
    out = exported["run_dir"] / "export"
    run = load_run(exported["run_dir"])
    rows = first_test_rows(run.datamodule, 2500)
    graph_input = onnx.load(str(out / "model.onnx")).graph.input[0].type.tensor_type
    assert graph_input.shape.dim[0].dim_param and graph_input.shape.dim[1].dim_value == 39
    assert graph_input.elem_type == onnx.TensorProto.INT64
    for model in (TorchScriptModel(out / "model.torchscript.pt"), OnnxModel(out / "model.onnx")):
        assert model.contract.field_names == tuple(run.datamodule.feature_map.field_names)
        for b in (2, 2500):
            with torch.no_grad():
                expected = run.net(rows[:b]).numpy()
            np.testing.assert_allclose(model(rows[:b].numpy()), expected, rtol=0, atol=TOLERANCE)


@pytest.fixture(scope="module")
def dnn_onnx(data_dir: Path, tmp_path_factory) -> tuple[Path, np.ndarray]:
    run_dir = train_tiny("dnn", data_dir, tmp_path_factory.mktemp("dnn_onnx"))
    export(compose_export(run_dir, run_dir / "export", "formats=[onnx]"))
    rows = first_test_rows(load_run(run_dir).datamodule, 4).numpy()
    return run_dir / "export" / "model.onnx", rows


def test_onnx_rejects_a_wrong_dtype_or_width_with_a_clear_error(dnn_onnx) -> None:
    path, rows = dnn_onnx
    model = OnnxModel(path)
    with pytest.raises(ValueError, match="expected dtype int64"):
        model(rows.astype(np.int32))
    with pytest.raises(ValueError, match=r"expected shape \(B, 39\) with columns \['I1', 'I2'"):
        model(rows[:, :38])
    # a raw onnxruntime session (no contract check) refuses them too, in its own words
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="Unexpected input data type"):
        session.run(None, {"features": rows.astype(np.int32)})
    with pytest.raises(Exception, match="invalid dimensions for input: features"):
        session.run(None, {"features": rows[:, :38]})


class FrozenBatch(nn.Module):
    """A net whose Python branch on the batch size a trace freezes at the example's size."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits = features.float() @ self.weight
        return logits * 2 if features.shape[0] > 10 else logits


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # the frozen branch is the point
def test_parity_check_catches_a_graph_frozen_to_the_example_batch(tmp_path: Path) -> None:
    rows = torch.randint(1, 5, (64, 3), generator=torch.Generator().manual_seed(0))
    artifacts = export_net(FrozenBatch(), rows[:32], tmp_path, formats=["torchscript"])
    report = measure_parity(FrozenBatch(), artifacts, rows, [1, 64])
    per_batch = report["formats"]["torchscript"]["per_batch"]
    assert per_batch["64"] == 0.0 and per_batch["1"] >= 3.0  # the trace doubles a 1-row batch
    with pytest.raises(ParityError, match=r"torchscript: max \|diff\| per batch size"):
        check_parity(report, TOLERANCE)


@pytest.mark.parametrize(
    ("rows", "formats", "match"),
    [
        (torch.zeros(1, 3, dtype=torch.long), ["onnx"], ">= 2 rows"),
        (torch.zeros(8, 3, dtype=torch.int32), ["onnx"], "expected dtype int64"),
        (torch.zeros(8, 3, dtype=torch.long), ["tflite"], "formats must be"),
    ],
)
def test_export_net_refuses_examples_and_formats_it_cannot_export(
    tmp_path: Path, rows: torch.Tensor, formats: list[str], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        export_net(FrozenBatch(), rows, tmp_path, formats, InputContract.anonymous(3))


def test_cli_exits_non_zero_when_parity_fails(dnn_onnx, tmp_path: Path) -> None:
    run_dir = dnn_onnx[0].parents[1]
    out = tmp_path / "cli"
    # No export meets a negative tolerance: this drives the parity failure path end to end.
    command = [
        str(Path(sys.executable).with_name("reaction-export")),
        f"run_dir={run_dir}",
        "formats=[torchscript]",
        "tolerance=-1",
        f"hydra.run.dir={out}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "exported logits differ from PyTorch by more than -1" in done.stderr
    payload = json.loads((out / EXPORT_FILE).read_text())
    assert payload["parity"]["passed"] is False and payload["model"] == "dnn"
