"""``reaction-analyze``: information-theoretic analyses, written into the run dir.

Modes (``mode=...`` in ``conf/analyze.yaml``):

* ``feature`` -- the feature redundancy report of a dataset's training split
  (``reaction.info.redundancy``): ``feature_report.json``, ``feature_report.md`` and its figures
  (``reaction.info.plots``);
* ``structural`` -- the structural redundancy report of a trained run (``structural.run_dir``):
  val AUC vs. pruned dense parameters, neuron ablation and per-neuron MI
  (``reaction.info.structural``): ``structural.json`` and two figures.

A mode is a function ``(cfg, out_dir) -> Analysis``; adding one is that function, its config
block and one line in ``MODES``. Every mode's tables and figures go to the configured loggers
(W&B: ``wandb.Table`` / ``wandb.Image``; CSV and others: the summary numbers), and
``analysis.json`` indexes what the run wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from reaction.config.conf_dir import CONF_DIR
from reaction.data.datamodule import CTRDataModule
from reaction.info.plots import write_plots
from reaction.info.redundancy import REDUNDANT, feature_report, to_markdown
from reaction.info.structural import (
    NEURON_PLOT,
    PRUNING_PLOT,
    REPORT_FILE,
)
from reaction.metrics import keys
from reaction.runs.load import load_run_config
from reaction.runs.structural import structural_report_for_run
from reaction.tracking.loggers import finish, log_config, log_final
from reaction.tracking.wandb_mode import ensure_wandb_mode
from reaction.utils.jsonio import write_json_atomic

log = logging.getLogger(__name__)

ANALYSIS_FILE = "analysis.json"
FEATURE_JSON = "feature_report.json"
FEATURE_MD = "feature_report.md"
KEY_PREFIX = keys.ANALYZE_PREFIX
FEATURE_COLUMNS = ["field", "kind", "cardinality", "entropy", "mi", "relevance", "null", "verdict"]


@dataclass
class Analysis:
    """What a mode produced: files written, tables and figures to log, numbers to summarise."""

    files: dict[str, Path]
    dataset: str
    tables: dict[str, tuple[list[str], list[list[Any]]]] = field(default_factory=dict)
    images: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # what was analysed (rows, fingerprints)


def _feature_rows(report: dict[str, Any], label: str) -> list[list[Any]]:
    entries = sorted(report["fields"], key=lambda e: -e["labels"][label]["relevance"])
    return [
        [
            e["field"],
            e["kind"],
            e["cardinality"],
            e["entropy"],
            e["labels"][label]["mi"],
            e["labels"][label]["relevance"],
            e["labels"][label]["null_relevance"],
            e["labels"][label]["verdict"],
        ]
        for e in entries
    ]


def _feature_summary(report: dict[str, Any]) -> dict[str, float]:
    """Verdict counts per label, ``analyze/<label>/<verdict>`` (redundant-with-X -> redundant)."""
    summary: dict[str, float] = {f"{KEY_PREFIX}/rows": report["rows"]}
    for label in report["labels"]:
        for verdict in ("informative", "weak", "noise", "redundant"):
            summary[f"{KEY_PREFIX}/{label}/{verdict}"] = 0
        for entry in report["fields"]:
            verdict = entry["labels"][label]["verdict"]
            verdict = "redundant" if verdict.startswith(REDUNDANT) else verdict
            summary[f"{KEY_PREFIX}/{label}/{verdict}"] += 1
    summary[f"{KEY_PREFIX}/pair_sample_rows"] = report["pairs"]["sample"]["rows"]
    return summary


def feature_analysis(cfg: DictConfig, out_dir: Path) -> Analysis:
    """The feature redundancy report of the training split (measures are fit on train only)."""
    config = instantiate(cfg.feature)
    datamodule: CTRDataModule = instantiate(cfg.data.datamodule)
    datamodule.prepare_and_setup()
    report = feature_report(datamodule.data.split_path("train"), datamodule.feature_map, config)
    write_json_atomic(out_dir / FEATURE_JSON, report)
    (out_dir / FEATURE_MD).write_text(to_markdown(report))
    images = write_plots(report, out_dir)
    tables = {
        f"{KEY_PREFIX}/feature_{label}": (FEATURE_COLUMNS, _feature_rows(report, label))
        for label in report["labels"]
    }
    files = {"json": out_dir / FEATURE_JSON, "markdown": out_dir / FEATURE_MD, **images}
    summary = _feature_summary(report)
    return Analysis(files, cfg.data.name, tables, images, summary, datamodule.data_info())


def structural_analysis(cfg: DictConfig, out_dir: Path) -> Analysis:
    """The structural redundancy report of the trained run ``cfg.structural.run_dir``."""
    options = cfg.structural
    if options.run_dir is None:
        raise ValueError("mode=structural needs structural.run_dir=<a reaction-train run dir>")
    config = instantiate(options.config)
    report = structural_report_for_run(
        options.run_dir, out_dir, config, options.checkpoint, options.data_dir
    )
    summary = report["summary"]
    numbers = {
        f"{KEY_PREFIX}/auc_unpruned": summary["auc_unpruned"],
        f"{KEY_PREFIX}/largest_fraction_lift": summary["largest_fraction_lift"],
        f"{KEY_PREFIX}/fraction_negligible_neurons": report["neuron_summary"][
            "fraction_negligible"
        ],
    }
    pruning = report["pruning"]
    rows = [list(row) for row in zip(pruning["fractions"], pruning["auc"], strict=True)]
    images = {"pruning": out_dir / PRUNING_PLOT, "neurons": out_dir / NEURON_PLOT}
    return Analysis(
        files={"json": out_dir / REPORT_FILE, **images},
        dataset=load_run_config(options.run_dir, options.data_dir).data.name,
        tables={f"{KEY_PREFIX}/pruning": (["fraction", "val_auc"], rows)},
        images=images,
        summary=numbers,
        data=report["run"],
    )


MODES: dict[str, Callable[[DictConfig, Path], Analysis]] = {
    "feature": feature_analysis,
    "structural": structural_analysis,
}


def _loggers(group: DictConfig | None) -> list[Logger]:
    """The configured loggers; a W&B run is typed ``analyze`` (the shared config says train)."""
    loggers = []
    for node in (group or {}).values():
        if node is None:
            continue
        wandb = str(node.get("_target_", "")).endswith("WandbLogger")
        loggers.append(instantiate(node, job_type="analyze") if wandb else instantiate(node))
    return loggers


def _log_analysis(loggers: list[Logger], analysis: Analysis) -> None:
    """Tables and figures as W&B objects; every logger gets the summary numbers."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            for key, (columns, rows) in analysis.tables.items():
                logger.log_table(key=key, columns=columns, data=rows)
            for name, path in analysis.images.items():
                logger.log_image(key=f"{KEY_PREFIX}/{name}", images=[str(path)])
    log_final(loggers, analysis.summary)


def analyze(cfg: DictConfig) -> dict[str, Any]:
    """Run ``cfg.mode`` on ``cfg.data`` and return the ``analysis.json`` payload."""
    if cfg.mode not in MODES:
        raise ValueError(f"unknown analysis mode {cfg.mode!r}; expected one of {list(MODES)}")
    ensure_wandb_mode()
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    loggers = _loggers(cfg.get("logger"))
    try:
        analysis = MODES[cfg.mode](cfg, out_dir)
        feature_map = analysis.data.get("feature_map")
        log_config(loggers, resolved, {"feature_map": feature_map} if feature_map else {})
        _log_analysis(loggers, analysis)
        payload = {
            "mode": cfg.mode,
            "dataset": analysis.dataset,
            "files": {name: str(path) for name, path in analysis.files.items()},
            "summary": analysis.summary,
            "data": analysis.data,
            "config": resolved,
        }
        write_json_atomic(out_dir / ANALYSIS_FILE, payload)
        log.info("analysis %s written to %s", cfg.mode, out_dir)
        return payload
    finally:
        finish(loggers)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="analyze")
def main(cfg: DictConfig) -> None:
    """Console entry point ``reaction-analyze``."""
    analyze(cfg)


if __name__ == "__main__":
    main()
