"""Where the data path's time goes: cProfile of ingest, encode and one loader pass on one file.

    .venv/bin/python benchmarks/profile_data_path.py outputs/bench_preprocess/1000000/train.txt

Prints, per stage, the wall time and the functions with the most cumulative time (the
breakdown in docs/DATASETS.md). Writes its caches under ``--workdir`` (deleted first: cold).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIN_COUNT = 10  # conf/data/criteo.yaml


def profiled(name: str, fn: Callable[[], Any], top: int) -> Any:  # noqa: ANN401
    profile = cProfile.Profile()
    start = time.perf_counter()
    result = profile.runcall(fn)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    sys.stdout.write(f"== {name}: {time.perf_counter() - start:.2f} s wall\n{out.getvalue()}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="a Criteo-format train.txt")
    parser.add_argument("--workdir", type=Path, default=Path("outputs/profile_data_path"))
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from torch.utils.data import DataLoader

    from reaction.data.formats.criteo import criteo
    from reaction.data.preprocess import PreprocessConfig, load_or_build
    from reaction.data.sources.files import FileSource
    from reaction.data.stream import ParquetBatchStream

    shutil.rmtree(args.workdir, ignore_errors=True)
    source = FileSource(criteo(), args.path, args.workdir / "ingest", on_bad_rows="skip")
    raw = profiled("ingest", source.prepare, args.top)
    config = PreprocessConfig(min_count=MIN_COUNT)
    data = profiled("encode", lambda: load_or_build(raw, config, args.workdir), args.top)
    fm = data.feature_map
    stream = ParquetBatchStream(
        [data.split_path("train")], fm.field_names, list(fm.labels), 4096, shuffle=True
    )
    loader = DataLoader(stream, batch_size=None, num_workers=0)
    profiled("loader (parquet, 0 workers)", lambda: sum(len(b) for b in loader), args.top)


if __name__ == "__main__":
    main()
