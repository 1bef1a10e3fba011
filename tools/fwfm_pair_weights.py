"""How a trained FwFM weighs its field pairs, grouped by the synthetic data's planted roles.

    .venv/bin/python tools/fwfm_pair_weights.py outputs/zoo/2_fwfm_s0

FwFM is FM plus one learned scalar ``r_ij`` per field pair; on the default synthetic data it beats
FM by ~0.007 test AUC. This prints the mean ``|r_ij|`` of each group of pairs (the planted
interaction pairs, then every other pair by the roles of its two fields) from the run's best
checkpoint, which shows *where* FwFM departs from FM (``r = 1`` everywhere). Synthetic runs only:
the roles come from the generator's ``ground_truth.json``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from reaction.data.sources.synthetic import SyntheticSource
from reaction.models.fwfm import FwFM
from reaction.runs.load import load_run


def pair_groups(run_dir: Path) -> dict[str, list[float]]:
    """Group name -> the ``|r_ij|`` of its pairs; ``planted`` holds the generator's pairs."""
    run = load_run(run_dir)
    if not isinstance(run.net, FwFM):
        raise SystemExit(f"{run_dir}: expected an FwFM run, got {type(run.net).__name__}")
    source = run.datamodule.raw_source
    if not isinstance(source, SyntheticSource):
        raise SystemExit(f"{run_dir}: the pair roles need the synthetic data's ground truth")
    truth = source.truth
    names = run.datamodule.feature_map.field_names
    planted = {frozenset(i.fields) for i in truth.interactions}
    interaction = run.net.interaction
    groups: dict[str, list[float]] = {}
    pairs = zip(interaction.pairs.left.tolist(), interaction.pairs.right.tolist(), strict=True)
    for weight, (i, j) in zip(interaction.weight.detach().abs().tolist(), pairs, strict=True):
        a, b = names[i], names[j]
        roles = sorted((truth.field(a).role, truth.field(b).role))
        group = "planted" if frozenset((a, b)) in planted else " x ".join(roles)
        groups.setdefault(group, []).append(weight)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args()
    groups = pair_groups(args.run_dir)
    print("| field pairs | pairs | mean abs(r) |")
    print("|---|---:|---:|")
    for group in sorted(groups, key=lambda g: -statistics.mean(groups[g])):
        print(f"| {group} | {len(groups[group])} | {statistics.mean(groups[group]):.3f} |")


if __name__ == "__main__":
    main()
