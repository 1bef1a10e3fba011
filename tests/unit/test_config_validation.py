"""Start-up config validation: each hand-typed mistake fails at once, naming key, value and what
is allowed; every shipped config passes; nothing is read before the check."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from omegaconf import DictConfig, OmegaConf

from reaction.cli.train import train
from reaction.cli.validation import ConfigError, validate_config
from tests.conftest import CONF_DIR, compose_train

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
# Studies run with reaction-analyze (conf/analyze.yaml), not reaction-train.
ANALYSIS_EXPERIMENTS = {"redundancy"}


@pytest.fixture
def compose(tmp_path: Path):
    def make(*overrides: str) -> DictConfig:
        return compose_train(["logger=none", *overrides], tmp_path / "run", tmp_path / "data")

    return make


def _problems(cfg: DictConfig) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    return str(caught.value)


BAD = [
    # ranges: key=value (allowed: ...)
    (["afe=paper", "afe.mi_threshold=2"], "afe.mi_threshold=2 (allowed: [0, 1])"),
    (["afe=paper", "afe.num_fields=0"], "afe.num_fields=0 (allowed: null or >= 1)"),
    (["afe=paper", "afe.num_fields=abc"], "afe.num_fields='abc' (allowed: int or null)"),
    (["model=reaction", "fusion.alpha=-1"], "fusion.alpha=-1 (allowed: >= 0)"),
    (["model=reaction", "fusion.schedule.start=0.6"], "need 0 <= start < end <= 1, got start=0.6"),
    (["model=reaction", "fusion.towers=9"], "fusion.towers=9 (allowed: 1..8)"),
    (["model=reaction", "fusion.serve=2"], "fusion.serve=2 (allowed: 'best' or 0..1)"),
    (["seed=-1"], "seed=-1 (allowed: an int in [0, 4294967295])"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 (allowed: an int >= 1, -1 or null)"),
    (["data.datamodule.batch_size=0"], "data.datamodule.batch_size=0 (allowed: an int >= 1)"),
    (["module.embedding_lr=0"], "module.embedding_lr=0: learning rates must be > 0"),
    (["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val=-1 (allowed: null or a"),
    (["test_ckpt=bset"], "test_ckpt='bset' (allowed: best, last, null or a checkpoint file)"),
    (["cost_batch_size=0"], "cost_batch_size=0 (allowed: an int >= 1)"),
    (["trainer.precision=16mixed"], "trainer.precision='16mixed' (allowed: "),
    (["data.datamodule.preprocess.min_count=0"], "preprocess: min_count must be >= 1, got 0"),
    (["data=tabular"], "data.schema=???: required"),
    (["seed=${sed}"], "seed=${sed}: cannot resolve (Interpolation key 'sed' not found)"),
    # `+key=` additions nothing reads
    (
        ["afe=paper", "+afe.mi_treshold=0.1"],
        "unknown afe key(s) ['mi_treshold']: afe.mi_treshold=0.1 (did",
    ),
    (["+model.net.hiden_units=[8]"], "DCNv2 takes no argument 'hiden_units' (did you mean"),
    (["+trainer.max_epoch=3"], "trainer.max_epoch=3: Trainer takes no argument 'max_epoch'"),
    (["+test_ckp=last"], "test_ckp='last': unknown key (did you mean 'test_ckpt'?)"),
    (["+fusion.serv=1"], "unknown fusion key(s) ['serv']: fusion.serv=1 (did you mean 'serve'?)"),
    (["+fusion.alpha=0.1"], "fusion.alpha=0.1: has no effect (fusion.kind='none' does not"),
    (["afe=paper", "afe.dim_policy=relevance"], "afe.dim_policy='relevance': has no effect"),
    # combinations that would fail (or do nothing) only after data, AFE or an epoch
    (["fusion=cosine"], "fusion.towers=2 but model=dcnv2 has 1 tower(s) (several towers: model="),
    (["model=reaction", "fusion=kd"], "fusion=kd needs fusion.teacher_run"),
    (
        ["model=fm", "afe=extended", "afe.subspace_dim=32"],
        "afe.subspace_dim=32: needs a model with",
    ),
    (["callbacks.early_stopping.monitor=val/acu"], "monitor='val/acu' (allowed: ['train/loss'"),
    (["callbacks.model_checkpoint.mode=min"], "mode='min' with monitor='val/auc' (allowed: 'max'"),
    (["+trainer.fast_dev_run=true"], "test_ckpt='best' with trainer.fast_dev_run=True"),
    (["callbacks.model_checkpoint.save_top_k=0"], "test_ckpt='best' needs a first ModelCheckpoint"),
    (["data=criteo"], "/criteo/train.txt': no such file or folder"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD, ids=[" ".join(o) for o, _ in BAD])
def test_each_mistake_names_key_value_and_what_is_allowed(compose, overrides, message) -> None:
    assert message in _problems(compose(*overrides))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_trainer_without_a_gpu_is_refused(compose) -> None:
    assert "this machine has 0 CUDA device(s)" in _problems(compose("trainer=gpu"))


def test_every_problem_is_reported_at_once(compose) -> None:
    cfg = compose(
        "afe=paper", "afe.mi_threshold=1.5", "seed=-3", "trainer.max_epochs=0", "module.lr=0",
        "data.datamodule.eval_batch_size=0", "fusion=cosine", "+model.net.dropuot=0.1",
    )  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    assert len(caught.value.problems) == 7
    assert str(caught.value).startswith("invalid config (7 problems):\n  - ")
    for key in ("afe.mi_threshold=1.5", "seed=-3", "trainer.max_epochs=0", "module.lr=0",
                "eval_batch_size=0", "fusion.towers=2", "model.net.dropuot=0.1"):  # fmt: skip
        assert key in str(caught.value)
    assert isinstance(caught.value, ValueError)


def _sweep(experiment: str) -> tuple[list[list[str]], list[list[tuple[str, object]]]]:
    """An experiment's sweep: its points over config groups (composed) and over values (set on
    the composed config). Models are checked one by one elsewhere and seeds need no sweep."""
    text = (CONF_DIR / "experiment" / f"{experiment}.yaml").read_text()
    params = (yaml.safe_load(text).get("hydra") or {}).get("sweeper", {}).get("params", {})
    groups, values = [], []
    for key, options in params.items():
        if key in ("model", "seed"):
            continue
        options = str(options).split(",")
        if (CONF_DIR / key).is_dir():
            groups.append([f"{key}={v}" for v in options])
        else:
            values.append([(key, yaml.safe_load(v)) for v in options])
    return list(map(list, itertools.product(*groups))), list(map(list, itertools.product(*values)))


def _valid_runs(tmp_path: Path) -> list[list[str]]:
    runs = [[], ["debug=fast_dev_run"], ["debug=overfit"], ["trainer=ddp_sim"], ["logger=csv"]]
    runs += [[f"model={model}"] for model in MODELS]
    runs += [  # README commands
        ["model=reaction", "afe=none", "fusion=none"],
        ["model=reaction", "afe=extended", "fusion.towers=4", "fusion.serve=3"],
        ["model=dnn", "fusion=entropy_reg"],  # any model trains through the objective
        ["model=dnn", "afe=extended", "afe.dim_policy=relevance", "afe.subspace_dim=64"],
        ["model=dcnv2", "afe=paper", "afe.num_fields=12"],
    ]
    raw, schema = tmp_path / "raw.csv", tmp_path / "schema.yaml"
    raw.write_text("label,a\n")
    schema.write_text("format: csv\nlabels: [label]\nnumeric: []\ncategorical: [a]\n")
    generated: dict[str, list[str]] = {
        "synthetic": [],
        "synthetic_recsys": [],
        "synthetic_sparse": [],
    }
    files = generated | {"tabular": [f"data.path={raw}", f"data.schema={schema}"]}
    for name in sorted(p.stem for p in (CONF_DIR / "data").glob("[!_]*.yaml")):
        runs.append([f"data={name}", *files.get(name, [f"data.path={raw}"])])
    return runs


def test_every_shipped_config_passes(compose, tmp_path: Path) -> None:
    """The default, every model, every point of every experiment's sweep, every dataset with
    its files in place, the README's commands: validation must never refuse a runnable config."""
    refused = {}
    runs = [(overrides, []) for overrides in _valid_runs(tmp_path)]
    for experiment in sorted({p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")}):
        if experiment not in ANALYSIS_EXPERIMENTS:
            groups, values = _sweep(experiment)
            runs += [([f"experiment={experiment}", *point], values) for point in groups]
    for overrides, value_points in runs:
        cfg = compose(*overrides)
        for point in value_points or [[]]:
            for key, value in point:
                OmegaConf.update(cfg, key, value)
            try:
                validate_config(cfg)
            except ConfigError as error:
                refused[" ".join([*overrides, *(f"{k}={v}" for k, v in point)])] = error.problems
    assert not refused


def _teacher(run: Path, data: DictConfig, **changes: object) -> Path:
    """A finished run folder as ``fusion=kd`` reads it: results.json (the resolved config, with
    ``changes`` to its data) and one checkpoint."""
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    (run / "checkpoints" / "epoch01-auc0.8000.ckpt").touch()
    data = OmegaConf.create(OmegaConf.to_container(data, resolve=True))
    for key, value in changes.items():
        OmegaConf.update(data, key, value)
    config = {"paths": {}, "data": OmegaConf.to_container(data)}
    (run / "results.json").write_text(json.dumps({"config": config}))
    return run


def test_a_kd_teacher_must_exist_and_see_the_same_features(compose, tmp_path: Path) -> None:
    def problems(teacher: Path) -> str:
        return _problems(compose("model=reaction", "fusion=kd", f"fusion.teacher_run={teacher}"))

    missing = tmp_path / "nope"
    assert f"fusion.teacher_run='{missing}': no such run directory" in problems(missing)
    (tmp_path / "empty").mkdir()
    assert "no checkpoint (*.ckpt) to load" in problems(tmp_path / "empty")
    data = compose().data
    fewer_rows = _teacher(tmp_path / "rows", data, **{"datamodule.raw_source.config.num_rows": 9})
    message = "the teacher saw other features, trained with data.datamodule.raw_source.config"
    assert f"{message}.num_rows=9 (here 400000)" in problems(fewer_rows)
    criteo = _teacher(tmp_path / "criteo", data, name="criteo")
    assert "trained with data.name='criteo' (here 'synthetic')" in problems(criteo)
    same = _teacher(tmp_path / "same", data)
    validate_config(compose("model=reaction", "fusion=kd", f"fusion.teacher_run={same}"))


def test_validation_comes_before_any_data_is_read(tmp_path: Path) -> None:
    data_dir = tmp_path / "never_created"
    overrides = ["logger=none", "afe=paper", "+afe.mi_treshold=0.1"]
    cfg = compose_train(overrides, tmp_path / "run", data_dir)
    with pytest.raises(ConfigError, match="unknown afe key"):
        train(cfg)
    assert not data_dir.exists()  # the synthetic data was not generated
    criteo = compose_train(["logger=none", "data=criteo"], tmp_path / "run", data_dir)
    with pytest.raises(ConfigError, match=r"data.path='.*never_created/criteo/train.txt'"):
        train(criteo)


def test_the_command_line_names_an_unknown_key() -> None:
    """Hydra's struct mode as a user of ``reaction-train`` sees it (the same app and configs,
    without importing torch): the key, and how to add a key on purpose."""
    app = (
        "import hydra; from reaction.config.conf_dir import CONF_DIR; "
        "hydra.main(version_base='1.3', config_path=CONF_DIR, config_name='train')(print)()"
    )
    command = [sys.executable, "-c", app, "afe=paper", "afe.mi_treshold=0.1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Could not override 'afe.mi_treshold'." in done.stderr
    assert "To append to your config use +afe.mi_treshold=0.1" in done.stderr
    assert "Key 'mi_treshold' is not in struct" in done.stderr
