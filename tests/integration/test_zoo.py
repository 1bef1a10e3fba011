"""``experiment=zoo``: a models x seeds multirun that ``reaction-report`` turns into one table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl

from tests.conftest import SMALL_ROWS


def test_zoo_multirun_gives_one_row_per_model_over_its_seeds(
    data_dir: Path, tmp_path: Path
) -> None:
    sweep_dir = tmp_path / "zoo"
    command = [
        sys.executable,
        "-m",
        "reaction.cli.train",
        "--multirun",
        "experiment=zoo",
        "model=lr,fm",  # the command line narrows the zoo's sweep (all models x 3 seeds)
        "seed=0,1",
        "debug=fast_dev_run",
        "logger=none",
        "~callbacks.progress_bar",
        f"paths.data_dir={data_dir}",
        f"data.datamodule.raw_source.config.num_rows={SMALL_ROWS}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    assert len(list(sweep_dir.rglob("results.json"))) == 4
    subprocess.run(
        [sys.executable, "-m", "reaction.cli.report", str(sweep_dir)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    table = pl.read_csv(sweep_dir / "report" / "report.csv")
    assert sorted(table["model"].to_list()) == ["fm", "lr"]
    assert table["seeds"].to_list() == [2, 2]
    assert "| seeds |" in (sweep_dir / "report" / "report.md").read_text()
