"""DTF's training cost against its towers' cost: the paper's fusion losses and the cost knobs,
in one process, interleaved so that machine load hits every variant alike.

    .venv/bin/python benchmarks/dtf_cost.py --batch 1024 4096 --towers 1 2 4 8 --steps 3

For each batch size, the median ms of REACTION's training step (``model=reaction afe=none``,
every tower + the DTF objective, Adam) with T towers under each variant, and its ratio to the
one-tower step of the same variant. Issue 16's goal: t2 <= 2.5, t4 <= 5, t8 <= 10 x t1.
Variants: ``towers only`` (``fusion=none``: what T towers cost without any fusion term, the
floor), ``paper`` (every pair, InfoNCE over the whole batch), ``blocks256``
(``fusion.contra_negatives=256``), ``blocks256+pairsT`` (and ``fusion.pairs_per_step=T``).
The ratios move with the machine's load (a quiet machine speeds up the one-tower step most):
repeat runs and compare medians; ``dtf_profile.py`` shows where a step's time goes.
"""

from __future__ import annotations

import argparse
import json

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from reaction.cli.bench import median_step_ms, tower_timers
from reaction.config.conf_dir import CONF_DIR

VARIANTS = {
    "towers only": ["fusion=none"],  # the floor: T towers and their cross-entropy, no fusion term
    "paper": [],
    "blocks256": ["fusion.contra_negatives=256"],
    "blocks256+pairsT": ["fusion.contra_negatives=256", "fusion.pairs_per_step=${fusion.towers}"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--towers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    report: dict[str, dict[str, dict[str, float]]] = {}
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        datamodule = instantiate(compose("train").data.datamodule)
        datamodule.prepare_and_setup()
        for batch in args.batch:
            timers = {
                f"{variant} {name}": timer
                for variant in args.variants
                for name, timer in tower_timers(
                    datamodule.feature_map, batch, args.towers, VARIANTS[variant]
                ).items()
            }
            ms = median_step_ms(timers, args.steps)
            report[str(batch)] = ms
            print(f"batch {batch} ({torch.get_num_threads()} threads): ms per step (x one tower)")
            for variant in args.variants:
                step = {t: ms[f"{variant} reaction_t{t}"] for t in args.towers}
                cells = [f"t{t} {step[t]:.0f} ({step[t] / step[1]:.2f}x)" for t in args.towers]
                print(f"  {variant:18s} " + "  ".join(cells))
    if args.out:
        with open(args.out, "w") as file:
            json.dump(report, file, indent=2)


if __name__ == "__main__":
    main()
