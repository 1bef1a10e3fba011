"""Scale benchmark of the feature report: rows/s and peak RSS at several data sizes.

    .venv/bin/python benchmarks/analyze_scale.py                       # 1M and 10M rows
    .venv/bin/python benchmarks/analyze_scale.py --rows 1000000 3000000 --workdir /tmp/scale

For each size it generates synthetic data with the Criteo schema (13 numeric + 26 categorical
fields, ``reaction.data.synthetic`` defaults, one label), preprocesses it (min_count 10, Criteo's
log-square buckets) and runs ``feature_report`` on the training split in a *child process*, which
reports its own peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) next to its RSS after
imports (data preparation runs in another child, so the report child inherits no peak). The
report streams row groups into count tables and samples a fixed number of rows for pair
measures, so its peak RSS should grow only with the count tables (vocabularies grow with the
data under min_count), not with the row count. Numbers are machine-dependent: reported, never
asserted.
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

log = logging.getLogger("analyze_scale")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def prepare(rows: int, workdir: Path, out: Path) -> None:
    """Generate + preprocess ``rows`` rows; writes the cache dir and the seconds it took."""
    from reaction.data.preprocess import PreprocessConfig, load_or_build
    from reaction.data.sources.synthetic import SyntheticSource
    from reaction.data.synthetic import SyntheticConfig

    start = time.perf_counter()
    source = SyntheticSource(str(workdir / "raw"), SyntheticConfig(num_rows=rows))
    data = load_or_build(source.prepare(), PreprocessConfig(min_count=10), workdir / "cache")
    out.write_text(json.dumps({"cache": str(data.root), "seconds": time.perf_counter() - start}))


def _prepare_in_child(rows: int, workdir: Path) -> tuple[Path, float]:
    """In a child too: Linux keeps ``ru_maxrss`` across fork + exec, so the parent that spawns
    the report must stay small or the report child would inherit the preprocessing peak."""
    out = workdir / "prepared.json"
    command = [sys.executable, __file__, "--prepare", str(rows), "--out", str(out)]
    subprocess.run([*command, "--workdir", str(workdir)], check=True)
    prepared = json.loads(out.read_text())
    return Path(prepared["cache"]), prepared["seconds"]


def child(cache: Path, out: Path, pair_rows: int, permutations: int) -> None:
    """Run the report on ``cache``'s training split and write timings + RSS to ``out``."""
    from reaction.data.schema import FeatureMap
    from reaction.info.redundancy import ReportConfig, feature_report

    baseline = _rss_mb()
    feature_map = FeatureMap.load(cache / "feature_map.json")
    config = ReportConfig(pair_sample_rows=pair_rows, null_permutations=permutations)
    start = time.perf_counter()
    report = feature_report(cache / "train.parquet", feature_map, config)
    seconds = time.perf_counter() - start
    width = 2 ** len(feature_map.labels)
    result = {
        "train_rows": report["rows"],
        "seconds": seconds,
        "rows_per_s": report["rows"] / seconds,
        "rss_after_imports_mb": baseline,
        "peak_rss_mb": _rss_mb(),
        "count_tables_mb": sum(feature_map.vocab_sizes) * width * 8 / 2**20,
        "vocab_total": sum(feature_map.vocab_sizes),
        "pair_sample_rows": report["pairs"]["sample"]["rows"],
    }
    out.write_text(json.dumps(result, indent=2))


def _run_child(cache: Path, workdir: Path, args: argparse.Namespace) -> dict:
    out = workdir / f"result-{cache.name}.json"
    command = [sys.executable, __file__, "--child", str(cache), "--out", str(out)]
    command += ["--pair-sample-rows", str(args.pair_sample_rows)]
    command += ["--null-permutations", str(args.null_permutations)]
    subprocess.run(command, check=True)
    return json.loads(out.read_text())


def _table(results: list[dict]) -> str:
    header = (
        "| rows (total) | train rows | report s | rows/s | peak RSS MB | RSS after imports MB "
        "| count tables MB | vocab total |"
    )
    lines = [header, "|" + "---:|" * 8]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['train_rows']:,} | {r['seconds']:.1f} | {r['rows_per_s']:,.0f} "
            f"| {r['peak_rss_mb']:.0f} | {r['rss_after_imports_mb']:.0f} "
            f"| {r['count_tables_mb']:.1f} | {r['vocab_total']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("outputs/analyze_scale"))
    parser.add_argument("--pair-sample-rows", type=int, default=200_000)
    parser.add_argument("--null-permutations", type=int, default=100)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.child is not None:
        child(args.child, args.out, args.pair_sample_rows, args.null_permutations)
        return
    if args.prepare is not None:
        prepare(args.prepare, args.workdir, args.out)
        return
    results = []
    for rows in sorted(args.rows):
        workdir = args.workdir / f"rows-{rows}"
        workdir.mkdir(parents=True, exist_ok=True)
        cache, prep_seconds = _prepare_in_child(rows, workdir)
        log.info("%d rows generated + preprocessed in %.1fs: %s", rows, prep_seconds, cache)
        results.append({"rows": rows, **_run_child(cache, workdir, args)})
        log.info("result: %s", results[-1])
    (args.workdir / "analyze_scale.json").write_text(json.dumps(results, indent=2))
    log.info(
        "feature report at scale (pair sample %d rows):\n%s", args.pair_sample_rows, _table(results)
    )


if __name__ == "__main__":
    main()
