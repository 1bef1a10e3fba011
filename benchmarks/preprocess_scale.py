"""Scale benchmark of the data path: rows/s, CPU and peak RSS per stage, before and after.

    .venv/bin/python benchmarks/preprocess_scale.py --rows 1000000 --baseline-ref a206dba
    .venv/bin/python benchmarks/preprocess_scale.py --rows 1000000 10000000 --files 10

For each size it writes a Criteo Kaggle ``train.txt`` (TAB-separated, 40 fields, empty =
missing; one malformed line per 100k rows, so ``on_bad_rows=skip`` is exercised), then runs each
stage in its own child process (``data_path_stages.py``: wall s, CPU s, peak RSS):

* **ingest** -- ``FileSource.prepare()``: parse + validate + split into typed parquet;
* **encode** -- ``load_or_build``: vocabularies (min count 10), log-square buckets, ids;
* **loader** -- one shuffled pass over the train split at 0 and 2 DataLoader workers, from the
  parquet row groups and (current code) from the memory-mapped id arrays.

With ``--baseline-ref`` the same children also run the code of that git commit (extracted with
``git archive``), cold, on the same file, and the table shows both with their ratio; the encoded
files of both versions are compared byte for byte. With ``--files N`` a folder of N files of
``rows / N`` lines each (Criteo 1TB's ``day_<n>`` layout) is ingested and then encoded with 1, 2
and 4 processes (``data.preprocess_workers``: one file per process for the ingest, as many parts
of the rows for the encode) and the merged ingest files and encoded caches are checked identical
(with 1 process the encode is the one-process build).

Categorical ids are drawn per field from a power law over the field's cardinality in Criteo
Kaggle, so vocabularies grow with the file as real ones do. Numbers are machine-dependent:
reported, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
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


STAGES = Path(__file__).with_name("data_path_stages.py")
CURRENT_SRC = Path(__file__).resolve().parents[1] / "src"


def _stage(stage: str, src: Path, path: Path, root: Path, *extra: str) -> dict:
    env = os.environ | {"PYTHONPATH": str(src)}
    command = [sys.executable, str(STAGES), stage, "--path", str(path), "--root", str(root)]
    out = subprocess.run([*command, *extra], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _generate_in_child(rows: int, path: Path, seed: int) -> None:
    """Not in this process: a stage child forked from a process that held the generated frames
    would report that process's peak RSS (``ru_maxrss`` survives ``exec``)."""
    command = [sys.executable, __file__, "--generate", str(rows), "--out", str(path)]
    subprocess.run([*command, "--seed", str(seed)], check=True)


def baseline_src(ref: str, workdir: Path) -> Path:
    """The ``src`` tree of git commit ``ref``, extracted once under ``workdir``."""
    dest = workdir / f"baseline-{ref}"
    if not (dest / "src").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", ref, "src"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def _digest(root: Path) -> str:
    """sha256 over the encoded cache's files but the manifest and feature map (which hold the
    fingerprint, a hash of input paths and mtimes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.parquet")):
        digest.update(path.relative_to(root).as_posix().encode())
        with path.open("rb") as fh:  # in blocks: a child forked later inherits this peak RSS
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def run_version(src: Path, path: Path, root: Path) -> dict:
    shutil.rmtree(root, ignore_errors=True)  # cold: both stages build
    ingest = _stage("ingest", src, path, root)
    encode = _stage("encode", src, path, root)
    loader = _stage("loader", src, path, root)
    return {"ingest": ingest, "encode": encode, "loader": loader["stream"],
            "encoded_sha256": _digest(Path(encode["root"]))}  # fmt: skip


def run_size(rows: int, workdir: Path, versions: dict[str, Path]) -> dict:
    folder = workdir / f"{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.txt"
    if not path.exists():
        start = time.perf_counter()
        _generate_in_child(rows, path, seed=0)
        log.info("generated %s in %.0f s", path, time.perf_counter() - start)
    result = {"rows": rows, "file_mb": path.stat().st_size / 2**20}
    for name, src in versions.items():
        log.info("%s rows, %s code", rows, name)
        result[name] = run_version(src, path, folder / name)
    return result


def run_folder(rows: int, files: int, workdir: Path, workers: list[int]) -> dict:
    """A ``day_0..day_<files-1>`` folder ingested, then encoded, by 1, 2, 4 processes: rows/s,
    CPU s, peak RSS per stage; same bytes?"""
    folder = workdir / f"folder-{rows}x{files}"
    folder.mkdir(parents=True, exist_ok=True)
    for day in range(files):
        if not (folder / f"day_{day}").exists():
            _generate_in_child(rows // files, folder / f"day_{day}", seed=day)
    result: dict = {"rows": rows, "files": files, "runs": []}
    ingested, encoded = set(), set()
    for n in workers:
        root = workdir / f"folder-run-{n}"
        shutil.rmtree(root, ignore_errors=True)
        ingest = _stage("ingest", CURRENT_SRC, folder, root, "--workers", str(n))
        ingested.add(_digest(next((root / "ingest").glob("criteo-*"))))
        encode = _stage("encode", CURRENT_SRC, folder, root, "--workers", str(n))
        encoded.add(_digest(Path(encode["root"])))
        result["runs"].append({"workers": n, **ingest, "encode": encode})
        shutil.rmtree(root)
    result["identical_across_workers"] = len(ingested) == 1
    result["encoded_identical_across_workers"] = len(encoded) == 1
    return result


def _rate(stage: dict, rows: int) -> str:
    return f"{rows / stage['seconds']:,.0f}"


def _both(version: dict, key: str) -> float:
    """Ingest + encode ``seconds`` or ``cpu_s`` of one code version."""
    return version["ingest"][key] + version["encode"][key]


def _table(results: list[dict], names: list[str]) -> str:
    """Per size and code version; ratios are against the first version (the baseline) of the
    same run, so both sides saw the same machine load."""
    lines = ["| rows | code | ingest rows/s | ingest CPU s | ingest peak RSS MB | encode rows/s "
             "| encode CPU s | encode peak RSS MB | both stages rows/s | both vs first: wall, "
             "CPU | loader rows/s (source, workers) | encoded files |",
             "|" + "---|" * 12]  # fmt: skip
    for r in results:
        first = r[names[0]]
        for name in names:
            v, n = r[name], r["rows"]
            ing, enc = v["ingest"], v["encode"]
            both = n / (ing["seconds"] + enc["seconds"])
            ratios = f"{_both(first, 'seconds') / _both(v, 'seconds'):.2f}x, " + (
                f"{_both(first, 'cpu_s') / _both(v, 'cpu_s'):.2f}x"
            )
            loads = ", ".join(
                f"{s['rows_per_s']:,.0f} ({s['source']}, {s['workers']})" for s in v["loader"]
            )
            same = v["encoded_sha256"] == r[names[0]]["encoded_sha256"]
            lines.append(
                f"| {n:,} | {name} | {_rate(ing, ing['rows_read'])} | {ing['cpu_s']:.1f} "
                f"| {ing['peak_rss_mb']:.0f} | {_rate(enc, enc['rows'])} | {enc['cpu_s']:.1f} "
                f"| {enc['peak_rss_mb']:.0f} | {both:,.0f} | {ratios} | {loads} "
                f"| {'identical' if same else 'DIFFERENT'} |"
            )
    return "\n".join(lines)


def _folder_table(folder: dict) -> str:
    lines = [f"{folder['files']} files, {folder['rows']:,} rows; identical across worker counts: "
             f"ingested files {folder['identical_across_workers']}, encoded cache "
             f"{folder['encoded_identical_across_workers']}",
             "| processes | ingest s | ingest rows/s | ingest CPU s | ingest peak RSS MB "
             "| encode s | encode rows/s | encode CPU s | encode peak RSS MB | both rows/s "
             "| both CPU s |",
             "|" + "---:|" * 11]  # fmt: skip
    for run in folder["runs"]:
        enc, n = run["encode"], run["rows_read"]
        lines.append(
            f"| {run['workers']} | {run['seconds']:.1f} | {n / run['seconds']:,.0f} "
            f"| {run['cpu_s']:.1f} | {run['peak_rss_mb']:.0f} | {enc['seconds']:.1f} "
            f"| {enc['rows'] / enc['seconds']:,.0f} | {enc['cpu_s']:.1f} "
            f"| {enc['peak_rss_mb']:.0f} "
            f"| {n / (run['seconds'] + enc['seconds']):,.0f} | {run['cpu_s'] + enc['cpu_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("outputs/bench_preprocess"))
    parser.add_argument("--baseline-ref", help="git commit whose code is measured alongside")
    parser.add_argument("--files", type=int, default=0, help="also a folder of this many files")
    parser.add_argument("--folder-rows", type=int, default=1_000_000)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.generate is not None:
        generate(args.generate, args.out, args.seed)
        return
    versions = {"current": CURRENT_SRC}
    if args.baseline_ref:
        versions = {"baseline": baseline_src(args.baseline_ref, args.workdir), **versions}
    results = [run_size(rows, args.workdir, versions) for rows in args.rows]
    report: dict = {"sizes": results, "versions": {k: str(v) for k, v in versions.items()}}
    if args.files:
        report["folder"] = run_folder(args.folder_rows, args.files, args.workdir, [1, 2, 4])
    (args.workdir / "results.json").write_text(json.dumps(report, indent=2))
    print(_table(results, list(versions)))  # noqa: T201 (the benchmark's output)
    if args.files:
        print(_folder_table(report["folder"]))  # noqa: T201


if __name__ == "__main__":
    main()
