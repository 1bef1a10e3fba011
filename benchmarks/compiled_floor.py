"""The floor of a compiled (numba) data path on one Criteo file: each step alone, in CPU seconds.

    .venv/bin/pip install numba==0.68.0   # not a dependency of the project
    PYTHONPATH=src .venv/bin/python benchmarks/compiled_floor.py <1M-row train.txt>

Steps: the compiled pass (``compiled_kernels``: read 8 MiB blocks, find fields, parse labels and
integers, intern the 26 categorical values into one hash table with training counts; random
8:1:1 split), broken down by part; the intermediate round trip (codes, numbers and labels written
uncompressed and read back, what an ingest cache of codes would hold); the vocabularies from the
table's counts (min count 10, ordered by count then value); code -> id (``np.take``); the 13
numeric fields bucketed, counted and looked up; the zstd write of the ids. No bad-row reports,
no caching: a floor for the design, not a pipeline (docs/DATASETS.md, "What is left").
``--pass-only`` times the compiled pass alone (e.g. on 10M rows, without keeping the rows);
``--check <encode cache>`` compares the categorical vocabularies and ids with those main's code
built from the same file (``data_path_stages.py ingest`` + ``encode``).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

NAMES = ("label", *(f"I{i}" for i in range(1, 14)), *(f"C{i}" for i in range(1, 27)))
MIN_COUNT = 10  # conf/data/criteo.yaml
ROW_GROUP = 65_536


def timed(name: str, rows: int, step: Callable[[], Any]) -> Any:  # noqa: ANN401
    """Run ``step``; print its wall and CPU seconds, and CPU seconds per million ``rows``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"| {name} | {wall:.2f} | {cpu:.2f} | {cpu * 1e6 / rows:.2f} |", flush=True)  # noqa: T201
    return result


LARGE = (2, 3, 9, 11, 15, 20, 23, 25)  # C3, C4, C10, C12, C16, C21, C24, C26: > 50k values


def compiled_pass(
    path: Path, chunk_bytes: int, parts: dict[str, float], keep: bool = True
) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """The table and each block's kept rows (``keep``); CPU seconds per part added to ``parts``."""
    import compiled_kernels as k
    from compiled_table import InternTable

    from reaction.data.formats.lines import iter_blocks
    from reaction.data.formats.splits import FilePlan, SplitConfig, assign

    roles = np.array([k.LABEL] + [k.NUMERIC] * 13 + [k.CATEGORICAL] * 26, dtype=np.int8)
    slot = np.array([0, *range(13), *range(26)], dtype=np.int32)
    table = InternTable(26)
    plan = FilePlan(path, rows=SplitConfig())
    blocks = []
    groups = {
        "intern, 8 fields of > 50k values": np.array(LARGE, dtype=np.int16),
        "intern, 18 other fields": np.array(sorted(set(range(26)) - set(LARGE)), dtype=np.int16),
    }
    clock = time.process_time()

    def lap(part: str) -> None:
        nonlocal clock
        now = time.process_time()
        parts[part] = parts.get(part, 0.0) + now - clock
        clock = now

    for block in iter_blocks(path, chunk_bytes):
        lap("read blocks")
        data = np.frombuffer(block.data, dtype=np.uint8)
        n = block.lines
        lines = np.arange(block.first_line, block.first_line + n, dtype=np.uint64)
        split = assign(lines, plan, 1, 0)
        train = split == 0
        lap("split (random 8:1:1)")
        labels = np.empty((1, n), dtype=np.float32)
        numbers = np.empty((13, n), dtype=np.float64)
        starts = np.empty((26, n), dtype=np.int64)
        stops = np.empty((26, n), dtype=np.int64)
        codes = np.empty((26, n), dtype=np.int32)
        general = np.empty(n, dtype=np.bool_)
        k.scan_block(data, roles, slot, 9, 256, labels, numbers, starts, stops, general)
        lap("scan: fields, labels, integers")
        table.reserve(26 * n, len(data))
        lap("table growth")
        for part, fields in groups.items():
            found = np.empty((len(fields), n), dtype=np.int32)
            spans = starts[fields], stops[fields]
            k.intern_values(data, *spans, fields, train, found, *table.arrays)
            codes[fields] = found
            lap(part)
        if keep:
            rows = ~general
            blocks.append({"labels": labels[:, rows], "numbers": numbers[:, rows],
                           "codes": codes[:, rows], "split": split[rows]})  # fmt: skip
    return table, blocks


def round_trip(blocks: list[dict[str, np.ndarray]], folder: Path) -> list[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "coded.parquet"
    writer = None
    for b in blocks:
        columns = {"label": b["labels"][0]}
        columns |= {f"I{i + 1}": pa.array(b["numbers"][i], from_pandas=True) for i in range(13)}
        columns |= {f"C{i + 1}": b["codes"][i] for i in range(26)}
        t = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(path, t.schema, compression="none", use_dictionary=False,
                                      write_statistics=False)  # fmt: skip
        writer.write_table(t)
    assert writer is not None
    writer.close()
    return [pq.read_table(path)]


def vocabularies(table: Any) -> np.ndarray:  # noqa: ANN401
    """code -> id over all fields (index 0: missing, 1: out of vocabulary), by today's rule."""
    import polars as pl

    entries = table.entries()
    ids = np.full(table.size + 1, 1, dtype=np.int32)
    ids[0] = 0
    keep = np.flatnonzero(entries.counts >= MIN_COUNT)
    kept = pl.DataFrame({"field": entries.fields[keep], "count": entries.counts[keep],
                         "value": pl.Series(entries.values.take(keep)).cast(pl.String),
                         "code": keep + 1})  # fmt: skip
    for _, group in kept.partition_by("field", as_dict=True).items():
        ranked = group.sort(["count", "value"], descending=[True, False])
        ids[ranked["code"].to_numpy()] = np.arange(2, 2 + ranked.height, dtype=np.int32)
    return ids


def numeric_ids(tables: list[Any]) -> list[np.ndarray]:  # noqa: ANN401
    """log_square buckets, training counts and ids of the 13 numeric fields (numpy)."""
    out = []
    for i in range(13):
        x = np.concatenate([t.column(f"I{i + 1}").to_numpy(zero_copy_only=False) for t in tables])
        with np.errstate(invalid="ignore", divide="ignore"):
            b = np.where(x > 2, np.floor(np.log(x) ** 2), np.trunc(x))
        finite = np.isfinite(b)
        values, inverse, counts = np.unique(b[finite], return_inverse=True, return_counts=True)
        ids = np.zeros(len(x), dtype=np.int32)
        ids[finite] = np.where(counts >= MIN_COUNT, 2 + np.argsort(-counts), 1)[inverse]
        out.append(ids)
    return out


def check(
    table: Any, lookups: np.ndarray, blocks: list[dict[str, np.ndarray]], cache: Path
) -> bool:  # noqa: ANN401
    """The 26 categorical vocabularies (value, id, count) and every split's categorical ids equal
    those of an encode cache that main's code built from the same file (min count 10, random
    8:1:1 split, seed 0): the floor is the cost of the same result."""
    import polars as pl

    entries = table.entries()
    same = True
    for f in range(26):
        codes = np.flatnonzero(entries.fields == f) + 1
        kept = codes[lookups[codes] >= 2]
        mine = pl.DataFrame({
            "value": pl.Series(entries.values.take(kept - 1)).cast(pl.String),
            "id": lookups[kept], "count": entries.counts[kept - 1],
        }).sort("id")  # fmt: skip
        same &= mine.equals(pl.read_parquet(cache / "vocab" / f"C{f + 1}.parquet"))
    codes = np.concatenate([b["codes"] for b in blocks], axis=1)
    split = np.concatenate([b["split"] for b in blocks])
    for code, name in enumerate(("train", "val", "test")):
        ids = lookups[codes[:, split == code]]
        ref = pl.read_parquet(cache / f"{name}.parquet")
        same &= all(np.array_equal(ref[f"C{f + 1}"].to_numpy(), ids[f]) for f in range(26))
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path, help="a Criteo-format train.txt")
    parser.add_argument("--chunk-bytes", type=int, default=8 << 20)
    parser.add_argument("--pass-only", action="store_true", help="the compiled pass alone")
    parser.add_argument("--check", type=Path, help="an encode cache of main's code, same file")
    args = parser.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sum(1 for _ in args.path.open("rb"))  # lines: the per-row unit of every step
    wall, cpu = time.perf_counter(), time.process_time()
    import compiled_kernels  # noqa: F401 (numba's import and cache load)

    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "tiny.txt"
        small.write_bytes(("0\t" + "1\t" * 13 + "a\t" * 25 + "b\n").encode())
        compiled_pass(small, 1 << 20, {})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"import + first call (numba compile or cache load): {wall:.2f} s wall, {cpu:.2f} CPU")  # noqa: T201
    print("| step | wall s | CPU s | CPU s per 1M rows |\n|---|---:|---:|---:|")  # noqa: T201
    parts: dict[str, float] = {}
    table, blocks = timed(
        "compiled pass: read, fields, labels, integers, intern + counts", rows,
        lambda: compiled_pass(args.path, args.chunk_bytes, parts, keep=not args.pass_only),
    )  # fmt: skip
    for part, seconds in parts.items():
        print(f"| - {part} | | {seconds:.2f} | {seconds * 1e6 / rows:.2f} |")  # noqa: T201
    print(f"lines: {rows:,}; distinct values: {table.size:,}; table slots: {len(table.slots):,}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # noqa: T201  # fmt: skip
    if args.pass_only:
        return
    with tempfile.TemporaryDirectory() as tmp:
        tables = timed("intermediate write + read (uncompressed parquet)", rows,
                       lambda: round_trip(blocks, Path(tmp)))  # fmt: skip
    lookups = timed("vocabularies from the tables (count >= 10, sorted)", rows,
                    lambda: vocabularies(table))  # fmt: skip
    ids = timed(
        "code -> id, np.take, 26 fields", rows,
        lambda: [np.concatenate([lookups[b["codes"][f]] for b in blocks]) for f in range(26)],
    )  # fmt: skip
    if args.check is not None:
        print(f"same vocabularies and categorical ids as {args.check}: "  # noqa: T201
              f"{check(table, lookups, blocks, args.check)}")  # fmt: skip
    numeric = timed("numeric: buckets, counts (np.unique), ids", rows,
                    lambda: numeric_ids(tables))  # fmt: skip
    columns = {f"I{i + 1}": numeric[i] for i in range(13)}
    columns |= {f"C{i + 1}": ids[i] for i in range(26)}
    columns["click"] = np.concatenate([b["labels"][0] for b in blocks])
    out = pa.table(columns)
    with tempfile.TemporaryDirectory() as tmp:
        timed("zstd parquet write of 39 id columns + label", rows,
              lambda: pq.write_table(out, Path(tmp) / "ids.parquet", compression="zstd",
                                     row_group_size=ROW_GROUP))  # fmt: skip


if __name__ == "__main__":
    main()
