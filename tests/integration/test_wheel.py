"""The built wheel works on its own: configs ship inside it, commands run outside the repository.

The wheel is built from this checkout and installed into a fresh virtual environment that sees
the already-installed third-party packages (torch first, as the Makefile installs it) but not the
editable checkout; then, from a folder outside the repository, a short training and
``reaction-report`` run with nothing but the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; third-party packages come from this venv's
    site-packages as a plain path (so the editable install's hooks are not loaded)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy: setuptools writes build/ beside the sources it builds
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", work / "dist", source, cwd=work)  # fmt: skip
    (wheel,) = (work / "dist").glob("reaction-*.whl")
    env_dir = work / "env"
    venv.create(env_dir, with_pip=False)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    (site / "third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = env_dir / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         wheel, cwd=work)  # fmt: skip
    return env_dir


def test_installed_package_is_the_wheel_with_its_configs(wheel_env: Path) -> None:
    code = "import reaction, reaction.config.conf_dir as c; print(reaction.__file__, c.CONF_DIR)"
    module, conf = _run(wheel_env / "bin" / "python", "-c", code, cwd=wheel_env).split()
    assert Path(module).is_relative_to(wheel_env) and not Path(module).is_relative_to(ROOT)
    assert (Path(conf) / "train.yaml").is_file() and (Path(conf) / "model" / "dcnv2.yaml").is_file()


def test_train_and_report_run_outside_the_repository(wheel_env: Path, tmp_path: Path) -> None:
    env = {**os.environ, "WANDB_MODE": "disabled"}
    bin_dir = wheel_env / "bin"
    _run(bin_dir / "reaction-train", "model=lr", "logger=none", "trainer.max_epochs=1",
         "data.datamodule.raw_source.config.num_rows=20000", "~callbacks.progress_bar",
         "hydra.run.dir=runs/lr", cwd=tmp_path, env=env)  # fmt: skip
    results = json.loads((tmp_path / "runs" / "lr" / "results.json").read_text())
    assert results["model"] == "lr" and 0.6 < results["metrics"]["test/auc"] < 1.0
    printed = _run(bin_dir / "reaction-report", "runs", cwd=tmp_path, env=env)
    assert "lr" in printed and (tmp_path / "runs" / "report" / "report.md").is_file()
