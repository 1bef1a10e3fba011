"""Studies and sweeps: every ``experiment`` / ``hparams_search`` config and documented command
composes, every value on its axes is a valid run, Optuna sweeps run end to end on tiny data
(single objective: best value; two objectives: the Pareto front), and the SLURM launcher
composes (never submitted)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob
from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import CategoricalDistribution

from reaction.afe.fit import afe_config
from reaction.cli.analyze import MODES
from reaction.cli.bench import bench_towers, selected_models
from reaction.data.schema import FeatureMap, FieldSpec
from reaction.fusion.config import fusion_config
from reaction.metrics import keys
from tests.conftest import CONF_DIR, SMALL_ROWS

GROUPS = ("experiment", "hparams_search")
CONFIGS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]
DOCUMENTED = [*CONFIGS, ("hydra/launcher", "slurm")]
COMMAND = re.compile(r"^#\s*(?:make \S+\s+==\s+)?(reaction-train|reaction-analyze)\s+(.*)$")
SEEDS = "0,1,2"
PAPER_BASELINES = (
    "dnn,dcnv2,fm,deepfm,xdeepfm,final_mlp,autoint_plus,fwfm,fmfm,fibinet,fignn,autodis,apg"
)
# The axes each study / sweep documents (grid sweeps: hydra.sweeper.params of the basic sweeper).
GRID_AXES = {
    ("experiment", "paper_main"): {"model": f"reaction,{PAPER_BASELINES}", "seed": SEEDS},
    ("experiment", "ablation_afe"): {"afe": "none,paper,extended", "seed": SEEDS},
    ("experiment", "afe_methods"): {
        "afe.num_fields": "12,4,8,16",
        "afe": "paper,random,lasso,pca,permutation,sfs,autofield,lpfs,optfs,adafs,gbdt,"
        "tayfcs,idarts",
        "seed": SEEDS,
    },
    ("experiment", "towers"): {"fusion.towers": "1,2,4,8", "seed": SEEDS},
    ("experiment", "redundancy"): {"mode": "feature,structural"},
    ("experiment", "ablation_dtf"): {
        "fusion": "none,entropy_reg,constant,linear_warmup,cosine,step,reparam",
        "seed": SEEDS,
    },
    ("hparams_search", "afe_threshold"): {
        "afe.mi_threshold": "0.0,0.0005,0.001,0.002,0.005,0.01",
        "seed": SEEDS,
    },
    ("hparams_search", "afe_fields"): {"afe.num_fields": "4,8,12,16,24,null", "seed": SEEDS},
    ("hparams_search", "afe_subspace"): {"afe.subspace_dim": "null,16,32,64,128", "seed": SEEDS},
    ("hparams_search", "fusion_schedule"): {
        "fusion": "constant,linear_warmup,cosine,step",
        "seed": SEEDS,
    },
    ("hparams_search", "fusion_weights"): {
        "fusion.alpha": "0.0,0.1,1.0",
        "fusion.beta": "0.0,0.1,1.0",
        "fusion.gamma": "0.0,0.01,0.1",
        "seed": SEEDS,
    },
}
OPTUNA = {  # directions, objectives, sampler, model
    "optuna_auc": (["maximize"], [keys.VAL_AUC], "TPESampler", "reaction"),
    "optuna_pareto": (
        ["maximize", "minimize"],
        [keys.VAL_AUC, keys.PARAMS_TOTAL],
        "NSGAIISampler",
        "reaction",
    ),
    "fusion_optuna": (["maximize"], [keys.VAL_AUC], "TPESampler", "reaction_peer"),
}


@contextmanager
def _hydra() -> Iterator[None]:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield


def _header_commands(path: Path) -> list[tuple[str, list[str]]]:
    """``(app, overrides)`` of every ``reaction-train`` / ``reaction-analyze`` line of the header
    comment; ``<placeholders>`` become a word, ``--multirun`` is dropped."""
    commands = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        match = COMMAND.search(re.sub(r"<[^>]*>", "placeholder", line))
        if match:
            args = [a for a in shlex.split(match[2], comments=True) if a != "--multirun"]
            commands.append(("train" if match[1] == "reaction-train" else "analyze", args))
    return commands


def _one_job(args: list[str]) -> list[str]:
    """A command's overrides with every sweep replaced by its first value (what compose takes)."""
    parser = OverridesParser.create()
    job = []
    for arg in args:
        override = parser.parse_override(arg)
        if override.is_sweep_override():
            arg = f"{arg.split('=', 1)[0]}={next(iter(override.sweep_string_iterator()))}"
        job.append(arg)
    return job


def _compose(app: str, overrides: list[str]) -> DictConfig:
    """Compose (inside ``_hydra()``) and validate what the app validates before reading data."""
    cfg = compose(app, overrides=overrides, return_hydra_config=True)
    if app == "analyze":
        assert cfg.mode in MODES
    else:
        afe_config(cfg.get("afe"))
        fusion_config(OmegaConf.to_container(cfg.fusion, resolve=True))
    return cfg


def _app(group: str, name: str) -> tuple[str, str]:
    """The app a config belongs to, from its documented commands, and how it is selected."""
    apps = {app for app, _ in _header_commands(CONF_DIR / group / f"{name}.yaml")}
    app = "analyze" if apps == {"analyze"} else "train"
    return app, f"{'+' if app == 'analyze' else ''}{group}={name}"


@pytest.mark.parametrize(("group", "name"), DOCUMENTED)
def test_documented_commands_compose(group: str, name: str) -> None:
    commands = _header_commands(CONF_DIR / group / f"{name}.yaml")
    assert commands, f"{group}/{name}.yaml: the header names no reaction-train/-analyze command"
    selected = [args for _, args in commands if any(a.endswith(f"{group}={name}") for a in args)]
    assert selected, f"{group}/{name}.yaml: no documented command selects {group}={name}"
    with _hydra():
        for app, args in commands:
            _compose(app, _one_job(args))


def _axis_values(params: DictConfig, optuna: bool) -> dict[str, list]:
    """Every axis with the values a trial can take on it: a grid's values (a ``glob`` axis is
    left out: Hydra expands it), Optuna's choices or an interval's two ends. Seeds are ints: only
    the first is composed."""
    if optuna:
        distributions, fixed = create_params_from_overrides([f"{k}={v}" for k, v in params.items()])
        assert not fixed and set(distributions) == set(params)
        return {
            key: list(d.choices) if isinstance(d, CategoricalDistribution) else [d.low, d.high]
            for key, d in distributions.items()
        }
    parser = OverridesParser.create()
    axes = {}
    for key, text in params.items():
        override = parser.parse_override(f"{key}={text}")
        if not isinstance(override.value(), Glob):
            values = list(override.sweep_string_iterator())
            axes[key] = values[:1] if key == "seed" else values
    return axes


def _trials_along_axes(axes: dict[str, list]) -> list[list[str]]:
    """Whole trials: every axis at its first value, every axis at its last value, then each value
    in between on one axis at a time (no trial twice)."""
    first = {key: values[0] for key, values in axes.items()}
    trials = [first, {key: values[-1] for key, values in axes.items()}]
    trials += [{**first, key: v} for key, values in axes.items() for v in values[1:-1]]
    unique = dict.fromkeys(tuple(f"{k}={v}" for k, v in trial.items()) for trial in trials)
    return [list(trial) for trial in unique]


@pytest.mark.parametrize(("group", "name"), CONFIGS)
def test_axes_are_documented_and_every_value_is_a_valid_run(group: str, name: str) -> None:
    app, select = _app(group, name)
    with _hydra():
        sweeper = _compose(app, [select]).hydra.sweeper
        params = sweeper.params or {}
        if (group, name) in GRID_AXES:  # the documented axes, on Hydra's basic (grid) sweeper
            assert sweeper._target_.endswith("BasicSweeper")
            assert dict(params) == GRID_AXES[(group, name)]
        for trial in _trials_along_axes(_axis_values(params, optuna=name in OPTUNA)):
            _compose(app, [select, *trial])


def test_redundancy_is_an_analysis_study() -> None:
    assert _app("experiment", "redundancy") == ("analyze", "+experiment=redundancy")
    with _hydra():
        cfg = _compose("analyze", ["+experiment=redundancy", "mode=structural"])
    assert cfg.experiment_name == "redundancy"
    assert OmegaConf.to_container(cfg.hydra.sweep)["subdir"] == "${hydra.job.num}_${mode}"


def test_paper_main_covers_the_papers_baselines_that_exist() -> None:
    models = {p.stem for p in (CONF_DIR / "model").glob("*.yaml")}
    assert set(GRID_AXES[("experiment", "paper_main")]["model"].split(",")) <= models


def test_bench_measures_every_zoo_model_with_its_shipped_net() -> None:
    # reaction-bench composes conf/model files into its own `models.<name>` packages: a model
    # file that only composes inside train.yaml (e.g. one overriding another group) breaks it.
    zoo = {p.stem for p in (CONF_DIR / "model").glob("*.yaml")} - {
        "reaction",
        "reaction_peer",
        "reaction_product",
        "reaction_product_implicit",
    }
    with _hydra():
        cfg = compose("bench")
    assert set(cfg.models) == zoo
    for name in zoo:
        shipped = OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml")
        assert cfg.models[name].net == shipped.net, name


def test_bench_measures_the_models_only_names_and_refuses_unknown_ones() -> None:
    with _hydra():
        picked = compose("bench", overrides=["only=[fibinet,fm]"])
        typo = compose("bench", overrides=["only=[fm,fibinett]"])
    assert list(selected_models(picked)) == ["fibinet", "fm"]
    with pytest.raises(ValueError, match=r"unknown model\(s\) \['fibinett'\]"):
        selected_models(typo)


def test_bench_times_reaction_with_each_tower_count_through_its_dtf_objective() -> None:
    fields = FeatureMap(tuple(FieldSpec(f"f{i}", "categorical", 9) for i in range(3)))
    with _hydra():
        cfg = compose("bench", overrides=["towers=[1,3]", "train_steps=1"])
        ms = bench_towers(cfg, fields, batch_size=32)
    assert set(ms) == {"reaction_t1", "reaction_t3"} and min(ms.values()) > 0


@pytest.mark.parametrize("name", list(OPTUNA))
def test_optuna_searches_compose_with_their_objectives(name: str) -> None:
    directions, metrics, sampler, model = OPTUNA[name]
    with _hydra():
        cfg = _compose("train", [f"hparams_search={name}"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.sampler._target_.endswith(sampler)
    direction = OmegaConf.to_container(sweeper)["direction"]
    assert ([direction] if isinstance(direction, str) else direction) == directions
    assert list(cfg.optimized_metrics) == metrics and cfg.model.name == model


def test_slurm_launcher_runs_one_trial_per_gpu() -> None:
    with _hydra():
        cfg = _compose("train", ["hydra/launcher=slurm", "trainer=gpu"])
        custom = _compose(
            "train",
            ["hydra/launcher=slurm", "hparams_search=optuna_auc", "hydra.launcher.partition=a100"],
        )
    launcher = cfg.hydra.launcher
    assert (
        launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    )
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (1, 1, 1)
    assert launcher.timeout_min > 0 and launcher.partition
    assert cfg.trainer.devices == 1
    assert custom.hydra.launcher.partition == "a100"
    assert custom.hydra.sweeper._target_.endswith("OptunaSweeper")


def _optuna_cli(sweep_dir: Path, data_dir: Path, name: str, trials: int) -> dict:
    """``reaction-train --multirun hparams_search=<name>`` on the small data, trials cut short."""
    command = [
        sys.executable,
        "-m",
        "reaction.cli.train",
        "--multirun",
        f"hparams_search={name}",
        f"hydra.sweeper.n_trials={trials}",
        f"hydra.sweep.dir={sweep_dir}",
        "logger=none",
        "~callbacks.progress_bar",
        f"paths.data_dir={data_dir}",
        f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=2",
        "+trainer.limit_test_batches=2",
        "afe.null_permutations=20",
        "cost_batch_size=256",
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())


def _trials(sweep_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/results.json"))]


@pytest.fixture(scope="module")
def optuna_sweep(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hparams_search=optuna_auc``, 2 trials on the small data; its trials' run dirs are kept."""
    sweep_dir = tmp_path_factory.mktemp("sweeps") / "optuna_auc"
    _optuna_cli(sweep_dir, data_dir, "optuna_auc", trials=2)
    return sweep_dir


def test_optuna_search_writes_the_best_trial(optuna_sweep: Path) -> None:
    best = yaml.safe_load((optuna_sweep / "optimization_results.yaml").read_text())
    trials = _trials(optuna_sweep)
    assert len(trials) == 2
    assert best["best_value"] == pytest.approx(max(t["metrics"][keys.VAL_AUC] for t in trials))
    with _hydra():
        searched = compose("train", ["hparams_search=optuna_auc"], return_hydra_config=True)
    assert set(best["best_params"]) == set(searched.hydra.sweeper.params)


def test_redundancy_study_runs_both_analyses(optuna_sweep: Path, data_dir: Path) -> None:
    """``reaction-analyze --multirun +experiment=redundancy`` on a trained trial of the sweep."""
    sweep_dir = optuna_sweep.parent / "redundancy"
    command = [
        sys.executable,
        "-m",
        "reaction.cli.analyze",
        "--multirun",
        "+experiment=redundancy",
        f"structural.run_dir={next(optuna_sweep.glob('0_*'))}",
        f"hydra.sweep.dir={sweep_dir}",
        "logger=none",
        f"paths.data_dir={data_dir}",
        f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}",
        "feature.null_permutations=10",
        "feature.pair_sample_rows=5000",
        "structural.config.sample_rows=512",
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    modes = {
        json.loads(p.read_text())["mode"]: p.parent.name for p in sweep_dir.glob("*/analysis.json")
    }
    assert modes == {"feature": "0_feature", "structural": "1_structural"}


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(val AUC up, params down): ``a`` is no worse than ``b`` on both and better on one."""
    return a[0] >= b[0] and a[1] <= b[1] and a != b


def test_two_objective_search_reports_the_pareto_front(data_dir: Path, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "optuna_pareto"
    front = _optuna_cli(sweep_dir, data_dir, "optuna_pareto", trials=3)["solutions"]
    points = [
        (t["metrics"][keys.VAL_AUC], t["costs"][keys.PARAMS_TOTAL]) for t in _trials(sweep_dir)
    ]
    assert len(points) == 3
    expected = {p for p in points if not any(_dominates(q, p) for q in points)}
    assert {tuple(s["values"]) for s in front} == expected
    assert all(set(s["params"]) >= {"afe.num_fields", "model.net.embedding_dim"} for s in front)


def test_served_towers_carry_their_own_embedding_l2_and_the_implicit_one_its_products() -> None:
    with _hydra():
        shared, product, implicit = (
            _compose("train", [f"model={m}", "data=synthetic_recsys"])
            for m in ("dcnv3", "reaction_product", "reaction_product_implicit")
        )
    # the module reads a model's own L2 (reaction_product's 1e-3, inherited), else the shared 3e-4
    assert [c.module.embedding_weight_decay for c in (shared, product, implicit)] == [
        3e-4,
        1e-3,
        1e-3,
    ]
    assert (product.model.net.products, implicit.model.net.products) == ("inner", "fwfm")
    assert (implicit.model.net.dropout, implicit.model.net.hidden_units) == (0.1, [96, 32])
    assert (implicit.afe.variant, implicit.fusion.kind) == ("paper", "none")
