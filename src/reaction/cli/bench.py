"""``reaction-bench``: serving and training costs per model and data-path throughput (bench.json).

Timing goals live here, not in tests: numbers depend on the machine, so they are measured and
reported (with the thread count), never asserted.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra import compose
from hydra.utils import instantiate
from omegaconf import DictConfig
from rich.table import Table
from torch import nn

from reaction.config.conf_dir import CONF_DIR
from reaction.data.datamodule import CTRDataModule
from reaction.data.preprocess import load_or_build
from reaction.data.schema import FeatureMap
from reaction.data.throughput import loader_throughput
from reaction.fusion.config import fusion_config
from reaction.fusion.objective import FusionObjective
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


StepTimer = Callable[[], float]


def training_step(
    net: nn.Module, features: torch.Tensor, objective: FusionObjective | None = None
) -> StepTimer:
    """A function that runs one training step (forward, objective, backward, Adam) and returns
    its milliseconds.

    The step ``reaction-train`` runs: every tower and the model's own loss terms through the
    fusion objective (plain cross-entropy by default). What bounds a sweep's wall time, and where
    a slow layer shows even when inference is fast. Labels are random: a step's cost does not
    depend on them.
    """
    objective = objective or FusionObjective()
    labels = torch.randint(0, 2, (features.shape[0],), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()

    def step() -> float:
        start = time.perf_counter()
        out = net.forward_train(features, with_hidden=objective.needs_hidden)
        loss = objective(out, labels.float(), features)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return (time.perf_counter() - start) * 1e3

    return step


def median_step_ms(timers: dict[str, StepTimer], steps: int) -> dict[str, float]:
    """Median ms per timer over ``steps`` rounds, each round running every timer once.

    Interleaving makes a change of machine load (another job starting) hit every model alike, so
    ratios between them hold; the first round (allocations, Adam state) is not counted.
    """
    times: dict[str, list[float]] = {name: [] for name in timers}
    for round_index in range(steps + 1):
        for name, timer in timers.items():
            ms = timer()
            if round_index:
                times[name].append(ms)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_training(cfg: DictConfig, datamodule: CTRDataModule) -> dict[str, float]:
    """Training ms/step per model at the data config's batch size."""
    fm = datamodule.feature_map
    features = random_features(fm, cfg.train_batch_size, seed=cfg.seed)
    timers = {name: training_step(net, features) for name, net in _fresh_nets(cfg, fm)}
    return median_step_ms(timers, cfg.train_steps)


def tower_timers(
    feature_map: FeatureMap,
    batch_size: int,
    towers: Sequence[int],
    overrides: Sequence[str] = (),
    seed: int = 0,
) -> dict[str, StepTimer]:
    """REACTION's training step with each tower count, as ``reaction_t<T>`` (needs Hydra's
    config store initialised: inside ``reaction-bench`` or ``initialize_config_dir``).

    The net and the fusion objective come from ``reaction-train model=reaction`` itself (its DTF
    losses and weights), with ``afe=none`` so that every model here sees the same input fields;
    ``overrides`` (train overrides, e.g. ``fusion.contra_negatives=256``) try variants.
    """
    features = random_features(feature_map, batch_size, seed=seed)
    timers = {}
    for count in towers:
        train_cfg = compose(
            "train", overrides=["model=reaction", "afe=none", f"fusion.towers={count}", *overrides]
        )
        torch.manual_seed(seed)
        net = instantiate(train_cfg.model.net, _partial_=True)(feature_map=feature_map)
        objective = FusionObjective(fusion_config(train_cfg.fusion))
        timers[f"reaction_t{count}"] = training_step(net, features, objective)
    return timers


def bench_towers(cfg: DictConfig, feature_map: FeatureMap, batch_size: int) -> dict[str, float]:
    """Median ms of REACTION's training step per tower count in ``cfg.towers``."""
    timers = tower_timers(feature_map, batch_size, cfg.towers, cfg.tower_overrides, cfg.seed)
    return median_step_ms(timers, cfg.train_steps)


def tower_cost_ratios(ms: dict[str, float]) -> dict[str, float]:
    """Each tower count's step time over the one-tower step (DTF's goal: about linear in T)."""
    return {name: value / ms["reaction_t1"] for name, value in ms.items()}


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
    for batch, ms in report["tower_training"].items():
        ratios = tower_cost_ratios(ms)
        console.print(
            f"REACTION train step, batch {batch}: "
            + ", ".join(f"{name} {ms[name]:.1f} ms ({ratios[name]:.2f}x)" for name in ms)
        )
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
    torch.set_flush_denormal(True)  # as reaction-train: denormal weights slow CPU steps many-fold
    datamodule: CTRDataModule = instantiate(cfg.data.datamodule)
    datamodule.prepare_and_setup()
    report = {
        "threads": torch.get_num_threads(),
        "batch_size": cfg.batch_size,
        "models": bench_models(cfg, datamodule),
        "train_batch_size": cfg.train_batch_size,
        "train_ms_per_step": bench_training(cfg, datamodule),
        "tower_training": {
            str(batch): bench_towers(cfg, datamodule.feature_map, batch)
            for batch in sorted({cfg.train_batch_size, *cfg.tower_batch_sizes})
        },
        "preprocess": bench_preprocess(datamodule),
        "stream": loader_throughput(datamodule.data, cfg.batch_size, cfg.stream_workers),
    }
    report["train_ms_per_step"] |= report["tower_training"][str(cfg.train_batch_size)]
    report["peak_rss_mb"] = _peak_rss_mb()
    write_json_atomic(Path(cfg.paths.output_dir) / "bench.json", report)
    _print(report)


if __name__ == "__main__":
    main()
