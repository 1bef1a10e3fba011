"""Every model trains under DistributedDataParallel (gloo, 2 CPU processes) and stays in sync.

One spawn for all models: each rank trains every model for a few steps on its own half of the
batch, then the ranks compare parameters. Equal parameters prove that every gradient was
all-reduced (a parameter DDP missed would drift apart), and a model with a parameter that gets
no gradient fails DDP's reducer. The Lightning path (``trainer=ddp_sim``) is covered end to end
in ``test_train.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from reaction.metrics.costs import random_features
from tests.model_configs import CONFIGS, WIDE, TrainingView, model_from_config, training_loss

STEPS = 3
BATCH = 32  # per rank


def _train_all(rank: int, world_size: int, port: int, out: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        spreads = {}
        for path in CONFIGS:
            torch.manual_seed(0)  # same initial weights on both ranks (DDP broadcasts anyway)
            model = DistributedDataParallel(TrainingView(model_from_config(path)))
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
            for step in range(STEPS):
                seed = 1000 * step + rank  # each rank sees different rows
                features = random_features(WIDE, BATCH, seed=seed)
                labels = torch.randint(
                    0, 2, (BATCH,), generator=torch.Generator().manual_seed(seed)
                )
                loss = training_loss(model(features), labels.float())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            flat = torch.cat([p.detach().flatten() for p in model.parameters()])
            gathered = [torch.empty_like(flat) for _ in range(world_size)]
            dist.all_gather(gathered, flat)
            spreads[path.stem] = float((gathered[0] - gathered[1]).abs().max())
        if rank == 0:
            torch.save(spreads, out)
        dist.barrier()  # neither rank tears gloo down while the other still talks to it
    finally:
        dist.destroy_process_group()


@pytest.mark.ddp
def test_every_model_trains_in_sync_under_ddp(tmp_path: Path) -> None:
    out = tmp_path / "spreads.pt"
    port = 29_500 + os.getpid() % 1000
    mp.spawn(_train_all, args=(2, port, out), nprocs=2, join=True)
    spreads = torch.load(out)
    assert sorted(spreads) == sorted(p.stem for p in CONFIGS)
    assert {name: s for name, s in spreads.items() if s != 0.0} == {}
