"""Scale benchmark of preprocessing: rows/s and peak RSS on generated Criteo-format files.

    .venv/bin/python benchmarks/preprocess_scale.py                    # 1M and 10M rows
    .venv/bin/python benchmarks/preprocess_scale.py --rows 1000000 3000000 --workdir /tmp/scale

For each size it writes a Criteo Kaggle ``train.txt`` (TAB-separated, 40 fields, empty =
missing; one malformed line per 100k rows, so ``on_bad_rows=skip`` is exercised), then measures
the two stages in separate child processes, each reporting its own peak RSS
(``ru_maxrss``; a child inherits no parent peak because the parent stays small):

* **ingest** -- ``FileSource.prepare()``: parse + validate + split into typed parquet, in chunks
  of ``chunk_bytes``: its memory should not grow with the file;
* **encode** -- ``reaction-preprocess`` on the ingested splits: vocabularies by streaming group-by
  counts, log-square buckets, id encoding into row-grouped parquet. Its memory follows the
  distinct values per field (the count tables), which grow with the data for Criteo-like
  long-tailed ids, not the row count itself.

Categorical ids are drawn per field from a power law over the field's cardinality in Criteo
Kaggle, so vocabularies grow with the file as real ones do. Numbers are machine-dependent:
reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("preprocess_scale")

# distinct values per C field in Criteo Kaggle's 45.8M rows (order of magnitude is what matters)
CARDINALITY = (
    1460, 583, 10_131_227, 2_202_608, 305, 24, 12_517, 633, 3, 93_145, 5_683, 8_351_593, 3_194,
    27, 14_992, 5_461_306, 10, 5_652, 2_173, 4, 7_046_547, 18, 15, 286_181, 105, 142_572,
)  # fmt: skip
MISSING = {f"C{i}": 0.44 for i in (19, 20, 22, 25, 26)} | {"I1": 0.45, "I12": 0.77, "I10": 0.45}
BAD_EVERY = 100_000
GEN_CHUNK = 500_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(rows: int, path: Path, seed: int = 0) -> None:
    """Write ``rows`` Criteo-format lines in chunks (bounded memory)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        for start in range(0, rows, GEN_CHUNK):
            n = min(GEN_CHUNK, rows - start)
            cols: dict[str, pl.Series] = {"label": pl.Series((rng.random(n) < 0.26).astype(int))}
            for i in range(1, 14):
                values = np.floor(rng.lognormal(1.5, 2.0, n)).astype(np.int64) - (i == 2) * 2
                cols[f"I{i}"] = _with_missing(pl.Series(values).cast(pl.String), f"I{i}", rng)
            for i, card in enumerate(CARDINALITY, start=1):
                ids = np.floor(card * rng.random(n) ** 3).astype(np.uint64)  # power law
                hashed = (ids * np.uint64(2654435761) + np.uint64(i)) % np.uint64(2**32)
                cols[f"C{i}"] = _with_missing(_hex8(hashed), f"C{i}", rng)
            frame = pl.DataFrame(cols)
            buf = frame.write_csv(separator="\t", include_header=False, quote_style="never")
            lines = buf.split("\n")
            for j in range(-start % BAD_EVERY, n, BAD_EVERY):
                lines[j] = "1\tnot-a-number" + "\t" * 38  # one bad row per BAD_EVERY
            fh.write("\n".join(lines).encode())
    tmp.rename(path)


def _hex8(values):  # noqa: ANN001, ANN202 (uint64 numpy in, polars String Series out)
    """Vectorised ``f"{v:08x}"``: nibbles -> ASCII digits -> fixed 8-byte strings."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    shifts = np.arange(28, -1, -4, dtype=np.uint64)
    chars = digits[(values[:, None] >> shifts) & np.uint64(0xF)]
    return pl.from_arrow(pa.array(chars.view("S8").ravel(), type=pa.binary())).cast(pl.String)


def _with_missing(series, name: str, rng):  # noqa: ANN001, ANN202
    import polars as pl

    mask = rng.random(series.len()) < MISSING.get(name, 0.05)
    return pl.select(pl.when(pl.lit(pl.Series(mask))).then(None).otherwise(series)).to_series()


def ingest_child(path: Path, root: Path, out: Path) -> None:
    """Stage 1 in this process: parse + validate + split; report time and peak RSS."""
    from reaction.data.formats.criteo import criteo
    from reaction.data.sources.files import FileSource

    baseline = _rss_mb()
    start = time.perf_counter()
    source = FileSource(criteo(), path, root, on_bad_rows="skip")
    source.prepare()
    seconds = time.perf_counter() - start
    report = source.input_report()
    result = {
        "seconds": seconds,
        "rows_read": report["rows_read"],
        "rows_skipped": report["rows_skipped"],
        "peak_rss_mb": _rss_mb(),
        "rss_after_imports_mb": baseline,
    }
    out.write_text(json.dumps(result, indent=2))


def _child(args: list[str]) -> None:
    subprocess.run([sys.executable, __file__, *args], check=True)


def run_size(rows: int, workdir: Path) -> dict:
    folder = workdir / f"{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.txt"
    if not path.exists():
        start = time.perf_counter()
        _child(["--generate", str(rows), "--out", str(path)])
        log.info("generated %s in %.0f s", path, time.perf_counter() - start)
    ingest_out = folder / "ingest_result.json"
    root = folder / "cache" / "ingest"
    _child(["--ingest", str(path), "--root", str(root), "--out", str(ingest_out)])
    ingest = json.loads(ingest_out.read_text())
    run_dir = folder / "run"
    command = [str(Path(sys.executable).with_name("reaction-preprocess")), "data=criteo"]
    command += [f"data.path={path}", "data.on_bad_rows=skip", f"paths.data_dir={folder}"]
    subprocess.run([*command, f"hydra.run.dir={run_dir}"], check=True)
    encode = json.loads((run_dir / "preprocess.json").read_text())
    return {
        "rows": rows,
        "file_mb": path.stat().st_size / 2**20,
        "ingest": ingest,
        "encode": {
            k: encode[k] for k in ("seconds", "peak_rss_mb", "rss_start_mb", "rows", "rows_kept")
        },
        "vocab_total": sum(encode["vocab_sizes"].values()),
    }


def _table(results: list[dict]) -> str:
    header = (
        "| rows | file MB | skipped | ingest s | ingest rows/s | ingest peak RSS MB "
        "| encode s | encode rows/s | encode peak RSS MB (after imports) | total rows/s "
        "| vocab total |"
    )
    lines = [header, "|" + "---:|" * 11]
    for r in results:
        ing, enc = r["ingest"], r["encode"]
        total = ing["seconds"] + enc["seconds"]
        lines.append(
            f"| {r['rows']:,} | {r['file_mb']:,.0f} | {ing['rows_skipped']} "
            f"| {ing['seconds']:.1f} | {ing['rows_read'] / ing['seconds']:,.0f} "
            f"| {ing['peak_rss_mb']:.0f} | {enc['seconds']:.1f} "
            f"| {enc['rows_kept'] / enc['seconds']:,.0f} "
            f"| {enc['peak_rss_mb']:.0f} ({enc['rss_start_mb']:.0f}) "
            f"| {ing['rows_read'] / total:,.0f} | {r['vocab_total']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("outputs/bench_preprocess"))
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ingest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.generate is not None:
        generate(args.generate, args.out)
        return
    if args.ingest is not None:
        ingest_child(args.ingest, args.root, args.out)
        return
    results = [run_size(rows, args.workdir) for rows in args.rows]
    (args.workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(_table(results))  # noqa: T201 (the benchmark's output)


if __name__ == "__main__":
    main()
