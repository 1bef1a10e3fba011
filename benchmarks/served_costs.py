"""Re-measure the served costs of finished runs side by side, on an otherwise idle CPU.

    .venv/bin/python benchmarks/served_costs.py outputs/reaction_demo/0_reaction_s0 RUN_DIR ...

A run's ``results.json`` holds the latency measured when it finished, possibly while other jobs
shared the machine; a comparison of latencies wants every model timed in one quiet process. Each
run is reopened with ``reaction.runs.load_run`` (its served model: AFE plan + the served tower for
REACTION) and measured with ``cost_report`` (each ``--batch`` size, default 4096; 1 is a single
request; median of ``--repeats`` passes, the thread count of this process). With ``--onnx`` each
served net is also exported as ``reaction-export`` writes it and timed through onnxruntime as a
server calls it (``OnnxModel``: the request's ids checked against the input contract, then the
session; same thread count): eager PyTorch pays a fixed cost per operator that dominates a
single-row request, a compiled runtime much less. Prints a Markdown table; numbers are
machine-dependent.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import torch

from reaction.metrics import keys
from reaction.metrics.costs import cost_report, median_call_ms, random_features
from reaction.runs.load import TrainedRun, load_run
from reaction.serving.contract import InputContract
from reaction.serving.export import ONNX, export_net
from reaction.serving.runtime import OnnxModel

COLUMNS = (
    ("params", keys.PARAMS_TOTAL, "{:,.0f}"),
    ("embedding", keys.PARAMS_EMBEDDING, "{:,.0f}"),
    ("FLOPs/sample", keys.FLOPS_PER_SAMPLE, "{:,.0f}"),
)


def onnx_ms(run: TrainedRun, batches: list[int], repeats: int) -> list[float]:
    """The run's served net exported to ONNX and timed through onnxruntime, per batch size."""
    fm = run.datamodule.feature_map
    contract = InputContract.for_feature_map(fm)
    with tempfile.TemporaryDirectory() as out_dir:
        artifact = export_net(run.net, random_features(fm, 64), out_dir, [ONNX], contract)[ONNX]
        model = OnnxModel(artifact.path)
        requests = [random_features(fm, b).numpy() for b in batches]
        return [median_call_ms(lambda r=r: model(r), repeats) for r in requests]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument(
        "--batch", type=int, nargs="+", default=[4096], help="batch sizes (1: a single request)"
    )
    parser.add_argument("--onnx", action="store_true", help="also time the ONNX export (ORT)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    headers = [c[0] for c in COLUMNS] + [f"ms/{b}" for b in args.batch]
    if args.onnx:
        headers += [f"ONNX ms/{b}" for b in args.batch]
    lines = ["| run | " + " | ".join(headers) + " |", "|---" * (len(headers) + 1) + "|"]
    for run_dir in args.runs:
        run = load_run(run_dir)
        fm = run.datamodule.feature_map
        per_batch = [cost_report(run.net, fm, batch, repeats=args.repeats) for batch in args.batch]
        cells = [fmt.format(per_batch[0][key]) for _, key, fmt in COLUMNS]
        cells += [f"{costs[keys.LATENCY_MS_PER_BATCH]:.3f}" for costs in per_batch]
        if args.onnx:
            cells += [f"{ms:.3f}" for ms in onnx_ms(run, args.batch, args.repeats)]
        lines.append(f"| {run_dir.name} | " + " | ".join(cells) + " |")
    print(f"torch threads: {torch.get_num_threads()}")  # noqa: T201 - the benchmark's output
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
