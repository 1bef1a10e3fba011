"""Where one DTF training step's time goes: the towers, each fusion term forward and backward, the
normalisation, Adam -- the breakdown behind ``dtf_cost.py``'s ratios.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dtf_profile.py --batch 4096 --towers 8

The step of ``dtf_cost.py`` (``model=reaction afe=none``, default
``fusion.contra_negatives=256 fusion.pairs_per_step=T``), cut into pieces that run one after the
other: each fusion term's backward is taken alone down to the states it reads, then the
normalisation's, then the towers' and the embedding's from those gradients and the
cross-entropy. Medians over ``--steps`` steps after one warm-up; the pieces add up to about one
step of ``dtf_cost.py`` (autograd runs the same kernels, in one pass).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from reaction.config.conf_dir import CONF_DIR
from reaction.fusion.config import FusionConfig, fusion_config
from reaction.fusion.losses import (
    contrastive_fusion,
    normalized_states,
    relational_fusion,
    sampled_pairs,
    spatial_fusion,
)
from reaction.metrics.costs import random_features

KNOBS = ["fusion.contra_negatives=256", "fusion.pairs_per_step=${fusion.towers}"]


def _grads(output: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """``d output / d inputs``, zeros for inputs it does not reach."""
    found = torch.autograd.grad(output, inputs, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, found, strict=True)]


def profile_step(
    net: torch.nn.Module,
    cfg: FusionConfig,
    features: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
) -> dict[str, float]:
    """One training step in pieces: ``{piece: ms}``."""
    ms: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        ms[name] = (time.perf_counter() - start) * 1e3
        return result

    out = timed("towers forward", lambda: net.forward_train(features, with_hidden=True))
    pairs = sampled_pairs(out.num_towers, cfg.pairs_per_step)
    layers = [list(layer) for layer in zip(*out.hidden, strict=True)]
    last = timed("normalise forward", lambda: normalized_states(layers[-1]))
    terms = {
        "spatial": lambda: torch.stack([spatial_fusion(x, pairs, cfg.margin) for x in layers]),
        "relational": lambda: relational_fusion(last, pairs),
        "contrastive": lambda: contrastive_fusion(last, pairs, cfg.tau, cfg.contra_negatives),
    }
    values = {name: timed(f"{name} forward", term).mean() for name, term in terms.items()}
    hidden = [h for layer in layers for h in layer]
    to_hidden = timed("spatial backward", lambda: _grads(values["spatial"], hidden))
    to_last = [torch.zeros_like(x) for x in last]
    for name in ("relational", "contrastive"):
        grads = timed(f"{name} backward", lambda n=name: _grads(values[n], last))
        to_last = [a + b for a, b in zip(to_last, grads, strict=True)]
    to_raw = timed(
        "normalise backward",
        lambda: torch.autograd.grad(last, layers[-1], to_last, retain_graph=True),
    )
    for t, grad in enumerate(to_raw):  # the last layer of tower t
        to_hidden[len(hidden) - len(to_raw) + t] += grad
    ce = sum(F.binary_cross_entropy_with_logits(z, labels) for z in out.logits)
    optimizer.zero_grad()
    timed(
        "towers + embedding backward",
        lambda: torch.autograd.backward([ce, *hidden], [torch.ones(()), *to_hidden]),
    )
    timed("Adam", optimizer.step)
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--towers", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--overrides", nargs="*", default=KNOBS, help="train overrides")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    overrides = ["model=reaction", "afe=none", f"fusion.towers={args.towers}", *args.overrides]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        datamodule = instantiate(compose("train").data.datamodule)
        datamodule.prepare_and_setup()
        train_cfg = compose("train", overrides=overrides)
        torch.manual_seed(0)
        net = instantiate(train_cfg.model.net, _partial_=True)(feature_map=datamodule.feature_map)
    net.train()
    cfg = fusion_config(train_cfg.fusion)
    features = random_features(datamodule.feature_map, args.batch, seed=0)
    labels = torch.randint(0, 2, (args.batch,), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    runs = [
        profile_step(net, cfg, features, labels.float(), optimizer) for _ in range(args.steps + 1)
    ]
    median = {name: statistics.median(run[name] for run in runs[1:]) for name in runs[0]}
    total = sum(median.values())
    threads = torch.get_num_threads()
    print(f"batch {args.batch}, {args.towers} towers ({threads} threads): {total:.0f} ms")
    for name, value in median.items():
        print(f"  {name:28s} {value:7.1f} ms  {100 * value / total:4.1f}%")


if __name__ == "__main__":
    main()
