"""One stage of the data path in this process, for ``preprocess_scale.py``; prints one JSON line.

    PYTHONPATH=<src tree> python benchmarks/data_path_stages.py ingest --path F --root R
    PYTHONPATH=<src tree> python benchmarks/data_path_stages.py encode --path F --root R
    PYTHONPATH=<src tree> python benchmarks/data_path_stages.py encode --path D --root R --workers 4
    PYTHONPATH=<src tree> python benchmarks/data_path_stages.py loader --path F --root R

Run as a child process per stage so that its peak RSS (``ru_maxrss``) and CPU time are the
stage's own; ``PYTHONPATH`` selects the code version (the current tree or a baseline checkout),
so the same harness times both. Only the public APIs that both versions have are used, but for
``--workers`` (ingest and encode in that many processes), which only the current code has for
the encode.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

MIN_COUNT = 10  # conf/data/criteo.yaml (BARS Criteo_x4_001)


def _usage() -> dict[str, float]:
    """CPU seconds and peak RSS of this process and its reaped children (ingest workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return {"cpu_s": cpu, "peak_rss_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024}


def _source(args: argparse.Namespace) -> Any:  # noqa: ANN401 (a FileSource of either version)
    from reaction.data.formats.criteo import criteo

    try:
        from reaction.data.sources.files import FileSource
    except ImportError:  # a baseline checkout from before raw sources moved to data/sources
        from reaction.data.formats.source import FileSource

    extra = {"workers": args.workers} if args.workers > 1 else {}
    return FileSource(criteo(), args.path, args.root / "ingest", on_bad_rows="skip", **extra)


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    source = _source(args)
    start, before = time.perf_counter(), _usage()
    source.prepare()
    seconds = time.perf_counter() - start
    report = source.input_report()
    return {
        "seconds": seconds,
        "cpu_s": _usage()["cpu_s"] - before["cpu_s"],
        "peak_rss_mb": _usage()["peak_rss_mb"],
        "rss_after_imports_mb": before["peak_rss_mb"],
        "rows_read": report["rows_read"],
        "rows_skipped": report["rows_skipped"],
    }


def encode(args: argparse.Namespace) -> dict[str, Any]:
    from reaction.data.preprocess import PreprocessConfig, load_or_build

    source = _source(args)
    raw = source.prepare()  # the ingest cache of the previous stage: a hit
    extra = {"jobs": source.jobs} if args.workers > 1 else {}  # the encode in parts
    start, before = time.perf_counter(), _usage()
    config = PreprocessConfig(min_count=MIN_COUNT)
    data = load_or_build(raw, config, args.root / "encoded", **extra)
    seconds = time.perf_counter() - start
    rows = data.feature_map.extra["rows"]
    return {
        "seconds": seconds,
        "cpu_s": _usage()["cpu_s"] - before["cpu_s"],
        "peak_rss_mb": _usage()["peak_rss_mb"],
        "rss_after_imports_mb": before["peak_rss_mb"],
        "rows": sum(rows.values()),
        "vocab_total": sum(f.vocab_size for f in data.feature_map.fields),
        "root": str(data.root),
    }


def loader(args: argparse.Namespace) -> dict[str, Any]:
    """Train-split rows/s: the parquet stream, and the id arrays where this version has them."""
    from reaction.data.preprocess import PreprocessConfig, load_or_build

    raw = _source(args).prepare()
    data = load_or_build(raw, PreprocessConfig(min_count=MIN_COUNT), args.root / "encoded")
    try:
        from reaction.data.throughput import loader_throughput
    except ImportError:  # the baseline: parquet only, through the stream it had
        return {"stream": _parquet_only(data, args.batch_size, args.loader_workers)}
    return {"stream": loader_throughput(data, args.batch_size, args.loader_workers)}


def _parquet_only(data: Any, batch_size: int, workers: list[int]) -> list[dict[str, Any]]:  # noqa: ANN401
    from torch.utils.data import DataLoader

    from reaction.data.stream import ParquetBatchStream

    results = []
    for n in workers:
        stream = ParquetBatchStream(
            paths=[data.split_path("train")],
            feature_columns=data.feature_map.field_names,
            label_columns=list(data.feature_map.labels),
            batch_size=batch_size,
            shuffle=True,
        )
        start = time.perf_counter()
        rows = sum(len(b) for b in DataLoader(stream, batch_size=None, num_workers=n))
        rate = rows / (time.perf_counter() - start)
        results.append({"source": "parquet", "workers": n, "rows": rows, "rows_per_s": rate})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=("ingest", "encode", "loader"))
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--loader-workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")  # stderr
    result = {"ingest": ingest, "encode": encode, "loader": loader}[args.stage](args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
