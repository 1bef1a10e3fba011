"""How long the paper's AFE selection takes: seconds and peak RSS of ``fit_plan`` per data size.

    .venv/bin/python benchmarks/afe_scale.py                      # 400k (the default data), 1M
    .venv/bin/python benchmarks/afe_scale.py --rows 1000000 --variant extended

Each size is synthetic data with the Criteo schema (13 numeric + 26 categorical fields, one
label), generated and preprocessed once under ``--workdir`` (min_count 10, log-square buckets);
the plan is fitted on the training split with ``conf/afe/<variant>.yaml``'s values. Selection
streams the split once for the per-field count tables and samples ``pair_sample_rows`` rows for
the pair terms, each greedy step adding one pair table per remaining candidate. Timings are
machine-dependent: reported, never asserted.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

import yaml

from reaction.afe.config import AFEConfig
from reaction.afe.plan import fit_plan
from reaction.config.conf_dir import CONF_DIR
from reaction.data.preprocess import PreprocessConfig, load_or_build
from reaction.data.sources.synthetic import SyntheticSource
from reaction.data.synthetic import SyntheticConfig

log = logging.getLogger("afe_scale")


def afe_settings(variant: str) -> AFEConfig:
    """The values of ``conf/afe/<variant>.yaml`` (its ``defaults`` list resolved by hand)."""
    node = yaml.safe_load((Path(CONF_DIR) / "afe" / f"{variant}.yaml").read_text())
    base = {}
    for parent in node.pop("defaults", []):
        if parent != "_self_":
            base.update(yaml.safe_load((Path(CONF_DIR) / "afe" / f"{parent}.yaml").read_text()))
    return AFEConfig(**{**base, **node})


def measure(rows: int, workdir: Path, cfg: AFEConfig) -> dict:
    source = SyntheticSource(str(workdir / f"raw_{rows}"), SyntheticConfig(num_rows=rows))
    data = load_or_build(source.prepare(), PreprocessConfig(min_count=10), workdir / "cache")
    start = time.perf_counter()
    plan = fit_plan(data.split_path("train"), data.feature_map, cfg, embedding_dim=16)
    return {
        "rows": rows,
        "train_rows": plan.fitted_on["rows"],
        "fields": data.feature_map.num_fields,
        "chosen": len(plan.fields),
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[400_000, 1_000_000])
    parser.add_argument("--variant", default="paper", choices=["paper", "extended"])
    parser.add_argument("--workdir", type=Path, default=Path("outputs/bench_afe"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cfg = afe_settings(args.variant)
    lines = [
        "| rows (total) | train rows | fields | chosen | fit s | peak RSS MB |",
        "|---:" * 6 + "|",
    ]
    for rows in args.rows:
        r = measure(rows, args.workdir, cfg)
        lines.append(
            f"| {r['rows']:,} | {r['train_rows']:,} | {r['fields']} | {r['chosen']} "
            f"| {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |"
        )
        log.info("%s", r)
    print("\n".join(lines))  # noqa: T201 - the benchmark's output


if __name__ == "__main__":
    main()
