"""``reaction-preprocess``: build (or reuse) one dataset's preprocessed cache and report it.

The same code path ``reaction-train`` runs implicitly when the cache is missing
(``CTRDataModule.prepare_data``), run alone so a large dataset can be prepared once, ahead of a
sweep. ``<run dir>/preprocess.json`` records rows read/kept/skipped with the first skipped lines,
vocabulary sizes, rows per split, where the cache is, wall time and the process's peak RSS.
"""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from reaction.config.conf_dir import CONF_DIR
from reaction.data.datamodule import CTRDataModule
from reaction.utils.jsonio import write_json_atomic

log = logging.getLogger(__name__)

REPORT_FILE = "preprocess.json"


def _input_report(datamodule: CTRDataModule, rows: dict[str, int]) -> dict[str, Any]:
    """Row accounting of the raw input; generated sources read exactly what they wrote."""
    report = getattr(datamodule.raw_source, "input_report", None)
    if callable(report):
        return report()
    total = sum(rows.values())
    return {"rows_read": total, "rows_kept": total, "rows_skipped": 0, "first_skipped": []}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def preprocess(cfg: DictConfig) -> dict[str, Any]:
    """Prepare ``cfg.data`` and return the ``preprocess.json`` payload (also written)."""
    out_dir = Path(cfg.paths.output_dir)
    rss_start_mb = _peak_rss_mb()  # imports (torch, polars): the floor under the peak
    datamodule: CTRDataModule = instantiate(cfg.data.datamodule)
    start = time.perf_counter()
    datamodule.prepare_data()
    datamodule.setup()
    seconds = time.perf_counter() - start
    fm = datamodule.feature_map
    rows = dict(fm.extra["rows"])
    source = _input_report(datamodule, rows)
    payload = {
        "dataset": cfg.data.name,
        "output": str(datamodule.data.root),
        "rows_read": source["rows_read"],
        "rows_kept": source["rows_kept"],
        "rows_skipped": source["rows_skipped"],
        "first_skipped": source["first_skipped"],
        "rows": rows,
        "vocab_sizes": dict(zip(fm.field_names, fm.vocab_sizes, strict=True)),
        "labels": list(fm.labels),
        "fingerprint": fm.extra["fingerprint"],
        "feature_map": fm.fingerprint(),
        "seconds": round(seconds, 3),
        "peak_rss_mb": _peak_rss_mb(),
        "rss_start_mb": rss_start_mb,
        "input": source,
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    write_json_atomic(out_dir / REPORT_FILE, payload)
    log.info(
        "%s: %d rows read, %d skipped; cache %s (%.1f s)",
        cfg.data.name,
        payload["rows_read"],
        payload["rows_skipped"],
        payload["output"],
        seconds,
    )
    return payload


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="preprocess")
def main(cfg: DictConfig) -> None:
    """Console entry point ``reaction-preprocess``."""
    preprocess(cfg)


if __name__ == "__main__":
    main()
