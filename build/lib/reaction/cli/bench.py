"""``reaction-bench``: serving and training costs per model and data-path throughput (bench.json).

Timing goals live here, not in tests: numbers depend on the machine, so they are measured and
reported (with the thread count), never asserted.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hydra
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig
from rich.table import Table
from torch import nn

from reaction.config.conf_dir import CONF_DIR
from reaction.data.datamodule import CTRDataModule
from reaction.data.preprocess import load_or_build
from reaction.data.schema import FeatureMap
from reaction.data.throughput import loader_throughput
from reaction.metrics import keys
from reaction.metrics.costs import cost_report, random_features
from reaction.utils.console import wide_console
from reaction.utils.jsonio import write_json_atomic


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_preprocess(datamodule: CTRDataModule) -> dict[str, float]:
    """Rows/s of a cold preprocessing build (vocabulary fit + encode of all splits)."""
    raw = datamodule.raw_source.prepare()
    rows = sum(datamodule.num_rows(split) for split in ("train", "val", "test"))
    with tempfile.TemporaryDirectory() as cache_root:
        start = time.perf_counter()
        load_or_build(raw, datamodule.preprocess, cache_root)
        seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def selected_models(cfg: DictConfig) -> dict[str, DictConfig]:
    """``cfg.models``, or the ones ``cfg.only`` names (an unknown name is an error listing all)."""
    if cfg.only is None:
        return dict(cfg.models)
    unknown = sorted(set(cfg.only) - set(cfg.models))
    if unknown:
        raise ValueError(
            f"only={list(cfg.only)}: unknown model(s) {unknown}; known: {list(cfg.models)}"
        )
    return {name: cfg.models[name] for name in cfg.only}


def _fresh_nets(cfg: DictConfig, feature_map: FeatureMap) -> Iterator[tuple[str, nn.Module]]:
    """Each selected model, untrained, seeded alike: costs do not depend on the weights."""
    for name, model_cfg in selected_models(cfg).items():
        torch.manual_seed(cfg.seed)
        yield name, instantiate(model_cfg.net, _partial_=True)(feature_map=feature_map)


def bench_models(cfg: DictConfig, datamodule: CTRDataModule) -> dict[str, dict[str, float]]:
    """Parameters, FLOPs, bytes and latency of each model at the serving batch size."""
    fm = datamodule.feature_map
    return {
        name: cost_report(net, fm, batch_size=cfg.batch_size, repeats=cfg.latency_repeats)
        for name, net in _fresh_nets(cfg, fm)
    }


def train_step_ms(net: nn.Module, features: torch.Tensor, steps: int) -> float:
    """Median milliseconds of one training step (forward, BCE, backward, Adam) on ``features``.

    What bounds a sweep's wall time, and where a slow layer shows even when inference is fast.
    Labels are random: the cost of a step does not depend on them.
    """
    labels = torch.randint(0, 2, (features.shape[0],), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    times_ms = []
    for step in range(steps + 1):  # the first step (allocations, Adam state) is not timed
        start = time.perf_counter()
        loss = F.binary_cross_entropy_with_logits(net(features), labels.float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step:
            times_ms.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times_ms)


def bench_training(cfg: DictConfig, datamodule: CTRDataModule) -> dict[str, float]:
    """Training ms/step per model at the data config's batch size."""
    fm = datamodule.feature_map
    features = random_features(fm, cfg.train_batch_size, seed=cfg.seed)
    return {
        name: train_step_ms(net, features, cfg.train_steps) for name, net in _fresh_nets(cfg, fm)
    }


def _print(report: dict[str, Any]) -> None:
    table = Table(
        title=f"serving costs on CPU ({report['threads']} threads, batch {report['batch_size']})"
    )
    train_header = f"train ms/step ({report['train_batch_size']})"
    headers = ("model", "params", "FLOPs/sample", "emb bytes/sample", "ms/batch", "samples/s")
    for header in (*headers, train_header):
        table.add_column(header, justify="right")
    for name, c in report["models"].items():
        table.add_row(
            name,
            f"{c[keys.PARAMS_TOTAL]:,.0f}",
            f"{c[keys.FLOPS_PER_SAMPLE]:,.0f}",
            f"{c[keys.EMBEDDING_BYTES_PER_SAMPLE]:,.0f}",
            f"{c[keys.LATENCY_MS_PER_BATCH]:.2f}",
            f"{c[keys.THROUGHPUT]:,.0f}",
            f"{report['train_ms_per_step'][name]:.1f}",
        )
    console = wide_console()
    console.print(table)
    prep = report["preprocess"]
    rate = prep["rows_per_s"]
    console.print(
        f"preprocess: {prep['rows']:,} rows in {prep['seconds']:.1f}s = {rate:,.0f} rows/s"
    )
    parquet = {s["workers"]: s["rows_per_s"] for s in report["stream"] if s["source"] == "parquet"}
    for s in report["stream"]:
        ratio = s["rows_per_s"] / parquet[s["workers"]]
        console.print(
            f"stream read ({s['source']}), {s['workers']} workers: "
            f"{s['rows_per_s']:,.0f} rows/s ({ratio:.1f}x parquet)"
        )
    console.print(f"peak RSS {report['peak_rss_mb']:.0f} MB")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="bench")
def main(cfg: DictConfig) -> None:
    datamodule: CTRDataModule = instantiate(cfg.data.datamodule)
    datamodule.prepare_and_setup()
    report = {
        "threads": torch.get_num_threads(),
        "batch_size": cfg.batch_size,
        "models": bench_models(cfg, datamodule),
        "train_batch_size": cfg.train_batch_size,
        "train_ms_per_step": bench_training(cfg, datamodule),
        "preprocess": bench_preprocess(datamodule),
        "stream": loader_throughput(datamodule.data, cfg.batch_size, cfg.stream_workers),
    }
    report["peak_rss_mb"] = _peak_rss_mb()
    write_json_atomic(Path(cfg.paths.output_dir) / "bench.json", report)
    _print(report)


if __name__ == "__main__":
    main()
