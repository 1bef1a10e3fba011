"""``reaction.cli.sweeps``: what a trial returns to a sweeper; no multirun around DDP."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from reaction.cli.sweeps import check_sweep_launch, optimized_values, sweep_objective
from reaction.metrics import keys
from tests.conftest import CONF_DIR

RESULTS = {
    "metrics": {keys.VAL_AUC: 0.79, keys.TEST_AUC: 0.8},
    "costs": {keys.PARAMS_TOTAL: 264801, keys.LATENCY_MS_PER_BATCH: 9.0},
}
BASIC = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
SLURM = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"


def test_one_metric_is_a_float_several_a_tuple_in_the_listed_order() -> None:
    assert optimized_values(RESULTS, [keys.VAL_AUC]) == 0.79
    assert optimized_values(RESULTS, keys.VAL_AUC) == 0.79  # a plain string is one key
    both = optimized_values(RESULTS, [keys.PARAMS_TOTAL, keys.VAL_AUC])
    assert both == (264801.0, 0.79) and all(isinstance(v, float) for v in both)
    assert optimized_values(RESULTS, []) is None


def test_a_missing_metric_is_an_error_naming_the_config_key_and_the_metric() -> None:
    with pytest.raises(ValueError, match=r"optimized_metrics=.*'val/nope'.*params/total"):
        optimized_values(RESULTS, [keys.VAL_AUC, "val/nope"])


def test_the_train_config_returns_val_auc_and_fast_dev_run_returns_nothing(train_cfg) -> None:
    cfg = train_cfg("model=lr")
    assert list(cfg.optimized_metrics) == [keys.VAL_AUC]
    assert sweep_objective(cfg, RESULTS) == 0.79
    assert sweep_objective(train_cfg("model=lr", "debug=fast_dev_run"), {"metrics": {}}) is None
    pareto = train_cfg("model=lr", "optimized_metrics=[val/auc,params/total]")
    assert sweep_objective(pareto, RESULTS) == (0.79, 264801.0)


def _composed(*overrides: str) -> DictConfig:
    """``conf/train.yaml`` with its ``hydra`` node, as a job of the given launch sees it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def test_multirun_around_ddp_on_the_local_launcher_is_refused() -> None:
    cfg = _composed("trainer=ddp_sim", "hydra.mode=MULTIRUN")
    assert cfg.hydra.launcher._target_ == BASIC
    with pytest.raises(ValueError, match=r"trainer\.devices=2.*--multirun.*trainer=gpu"):
        check_sweep_launch(cfg)
    with pytest.raises(ValueError, match="trainer.strategy='ddp'"):
        check_sweep_launch(_composed("trainer=ddp", "hydra.mode=MULTIRUN"))


@pytest.mark.parametrize(
    "overrides",
    [
        ("trainer=ddp_sim",),  # one DDP run, no sweep
        ("trainer=cpu", "hydra.mode=MULTIRUN"),  # a sweep of single-device trials
        ("trainer=ddp_sim", "trainer.devices=1", "hydra.mode=MULTIRUN"),
    ],
)
def test_single_runs_and_one_device_trials_are_allowed(overrides: tuple[str, ...]) -> None:
    check_sweep_launch(_composed(*overrides))


def _hydra_node(launcher: str) -> DictConfig:
    return OmegaConf.create({"mode": RunMode.MULTIRUN, "launcher": {"_target_": launcher}})


@pytest.mark.parametrize(
    ("trainer", "refused"),
    [
        ({"strategy": "ddp", "devices": 4}, True),
        ({"strategy": "ddp_spawn", "devices": "0,1"}, True),
        ({"strategy": "ddp", "devices": [0, 1]}, True),
        ({"strategy": "ddp", "devices": -1}, True),  # every device found: possibly many
        ({"strategy": "ddp", "devices": "auto"}, True),
        (
            {"strategy": {"_target_": "lightning.pytorch.strategies.DDPStrategy"}, "devices": 2},
            True,
        ),
        ({"strategy": "auto", "devices": 2}, True),  # Lightning picks DDP for several devices
        ({"strategy": "ddp", "devices": 1}, False),
        ({"strategy": "auto", "devices": "auto"}, False),
        ({"devices": 1}, False),
    ],
)
def test_device_and_strategy_spellings(trainer: dict, refused: bool) -> None:
    cfg = OmegaConf.create({"trainer": trainer})
    if refused:
        with pytest.raises(ValueError, match="never run a Hydra multirun inside DDP"):
            check_sweep_launch(cfg, _hydra_node(BASIC))
    else:
        check_sweep_launch(cfg, _hydra_node(BASIC))


def test_slurm_jobs_and_runs_outside_hydra_are_not_checked() -> None:
    cfg = OmegaConf.create({"trainer": {"strategy": "ddp", "devices": 4}})
    check_sweep_launch(cfg, _hydra_node(SLURM))  # each rank is its own SLURM task
    check_sweep_launch(cfg)  # not under Hydra at all (a notebook, a test)
