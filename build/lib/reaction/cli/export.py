"""``reaction-export``: a trained run's served net to TorchScript + ONNX, checked on its test rows.

Reopens the run (``reaction.runs.load_run``: the checkpoint's weights and AFE plan), exports the
net the run serves -- ``ids -> [AFE plan lookup] -> model -> logits`` -- with the first
``batch_size`` test rows as the example, reloads every file with its runtime and compares logits
with PyTorch at several batch sizes. ``export.json`` records files, sizes, parity, the run, the
checkpoint, the AFE plan fingerprint and the input contract; it is written before the parity
verdict, so a failed export (non-zero exit) can still be inspected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from reaction.afe import AFENet
from reaction.config.conf_dir import CONF_DIR
from reaction.data.datamodule import CTRDataModule
from reaction.runs.load import TrainedRun, load_run
from reaction.serving import (
    InputContract,
    check_parity,
    export_net,
    measure_parity,
    parity_failures,
)
from reaction.utils.jsonio import write_json_atomic

log = logging.getLogger(__name__)

EXPORT_FILE = "export.json"


def check_batch_sizes(batch_size: int, parity_batch_sizes: Sequence[int]) -> None:
    """The dynamic batch axis is only shown to work by sizes on both sides of the example's."""
    if 1 not in parity_batch_sizes or max(parity_batch_sizes) <= batch_size:
        raise ValueError(
            f"parity_batch_sizes must include 1 and a size above batch_size={batch_size}, "
            f"got {list(parity_batch_sizes)}"
        )


def first_test_rows(datamodule: CTRDataModule, num_rows: int) -> torch.Tensor:
    """The first ``num_rows`` ``(N, F)`` feature rows of the run's test split."""
    parts, have = [], 0
    for batch in datamodule.test_dataloader():
        parts.append(batch.features)
        have += len(batch)
        if have >= num_rows:
            break
    if have < num_rows:
        raise ValueError(f"the test split has {have} rows; the export needs {num_rows}")
    return torch.cat(parts)[:num_rows]


def _run_info(run: TrainedRun) -> dict[str, Any]:
    feature_map = run.datamodule.feature_map
    return {
        "run_dir": str(run.run_dir),
        "model": run.config.model.name,
        "dataset": feature_map.dataset,
        "checkpoint": str(run.checkpoint),
        "feature_map_fingerprint": feature_map.fingerprint(),
        "afe_plan_fingerprint": run.net.plan.fingerprint() if isinstance(run.net, AFENet) else None,
    }


def _log_parity(parity: dict[str, Any]) -> None:
    for fmt, numbers in parity["formats"].items():
        worst, per_batch = numbers["max_abs_diff"], numbers["per_batch"]
        log.info("%s parity: max |diff| %.3g (per batch size %s)", fmt, worst, per_batch)


def export(cfg: DictConfig) -> dict[str, Any]:
    """Export ``cfg.run_dir``'s net, write ``export.json``, then enforce ``cfg.tolerance``."""
    sizes = list(cfg.parity_batch_sizes)
    check_batch_sizes(cfg.batch_size, sizes)
    out_dir = Path(cfg.paths.output_dir)
    run = load_run(cfg.run_dir, cfg.checkpoint, cfg.data_dir, cfg.cache_dir)
    rows = first_test_rows(run.datamodule, max(*sizes, cfg.batch_size))
    contract = InputContract.for_feature_map(run.datamodule.feature_map)
    artifacts = export_net(run.net, rows[: cfg.batch_size], out_dir, list(cfg.formats), contract)
    parity = measure_parity(run.net, artifacts, rows, sizes)
    _log_parity(parity)
    passed = not parity_failures(parity, cfg.tolerance)
    payload = {
        **_run_info(run),
        "contract": contract.to_dict(),
        "example_rows": cfg.batch_size,
        "files": {fmt: artifact.to_dict() for fmt, artifact in artifacts.items()},
        "parity": {**parity, "tolerance": cfg.tolerance, "passed": passed},
        "versions": {p: version(p) for p in ("torch", "onnx", "onnxruntime")},
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    write_json_atomic(out_dir / EXPORT_FILE, payload)
    check_parity(parity, cfg.tolerance)
    log.info("export of %s written to %s", run.run_dir, out_dir)
    return payload


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    """Console entry point ``reaction-export``."""
    export(cfg)


if __name__ == "__main__":
    main()
