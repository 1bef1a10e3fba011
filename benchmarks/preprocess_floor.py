"""The cost of the building blocks the two preprocessing stages are made of, on one Criteo file.

    .venv/bin/python benchmarks/preprocess_floor.py outputs/bench_preprocess/1000000/train.txt

Each step runs once on the whole file (no validation, no splits, no caching), so the sum is a
floor for a pipeline that materialises every field as a string column: what a faster ingest or
encode built from polars/pyarrow can approach but not beat on the same machine. Prints wall and
CPU seconds per step (docs/DATASETS.md, "Where the time goes").
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAMES = ("label", *(f"I{i}" for i in range(1, 14)), *(f"C{i}" for i in range(1, 27)))
CATEGORICAL = NAMES[14:]
MIN_COUNT = 10  # conf/data/criteo.yaml


def timed(name: str, step: Callable[[], Any]) -> Any:  # noqa: ANN401
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"| {name} | {wall:.2f} | {cpu:.2f} |")  # noqa: T201 (the benchmark's output)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="a Criteo-format train.txt")
    args = parser.parse_args()
    import polars as pl
    import pyarrow.parquet as pq

    data = args.path.read_bytes()
    schema = dict.fromkeys(NAMES, pl.String)
    print("| step | wall s | CPU s |\n|---|---:|---:|")  # noqa: T201
    frame = timed(
        "polars read_csv, 40 String columns",
        lambda: pl.read_csv(data, has_header=False, separator="\t", quote_char=None, schema=schema),
    )
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.parquet"
        timed(
            "parquet write, uncompressed, no dictionary",
            lambda: pq.write_table(table, plain, compression="none", use_dictionary=False),
        )
        frame = timed("polars read of that parquet", lambda: pl.read_parquet(plain))
    counts = timed(
        "group-by counts of the 26 categorical columns",
        lambda: [frame.group_by(c).len() for c in CATEGORICAL],
    )
    vocabs = [
        n.filter(pl.col("len") >= MIN_COUNT)[c].drop_nulls()
        for c, n in zip(CATEGORICAL, counts, strict=True)
    ]
    lookups = [
        pl.col(c).cast(pl.Enum(v), strict=False) for c, v in zip(CATEGORICAL, vocabs, strict=True)
    ]
    ids = timed(
        f"Enum lookups of the 26 categorical columns (count >= {MIN_COUNT})",
        lambda: frame.select(e.to_physical() for e in lookups),
    )
    with tempfile.TemporaryDirectory() as tmp:
        timed(
            "zstd parquet write of the 26 id columns",
            lambda: pq.write_table(ids.to_arrow(), Path(tmp) / "ids.parquet", compression="zstd"),
        )


if __name__ == "__main__":
    main()
