"""reaction-report: grouped stats equal numpy's, p-values scipy's Welch test, planted Pareto
fronts, sweeps, valid files, and clear errors on bad input."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy.stats import ttest_ind

from reaction.cli import report as report_cli
from reaction.metrics import keys
from reaction.reporting import report
from reaction.reporting.plots import plot_sweep
from reaction.reporting.report import (
    label_columns,
    pareto_front,
    report_markdown,
    report_table,
    sweep_table,
    write_report,
)
from reaction.reporting.summary import ResultsError, load_results, require_results
from reaction.runs.results import RESULTS_FILE, build_results
from reaction.utils.jsonio import write_json_atomic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# model: (params, ms/4096, test AUC per seed); lr has one seed. Planted fronts (lower cost,
# higher AUC): params -> lr, fm, dcnv2 (dnn loses to fm, deepfm to dcnv2 at equal params);
# latency -> lr, dnn, deepfm, dcnv2 (fm loses to deepfm).
PLANTED: dict[str, tuple[float, float, list[float]]] = {
    "lr": (10.0, 1.0, [0.70]),
    "fm": (100.0, 8.0, [0.751, 0.749, 0.7502]),
    "dnn": (1000.0, 2.0, [0.741, 0.7385, 0.7401]),
    "dcnv2": (2000.0, 20.0, [0.8012, 0.7991, 0.8003]),
    "deepfm": (2000.0, 3.0, [0.7795, 0.7811, 0.7802]),
}


def _result(model: str, seed: int, auc: float, params: float, ms: float, **config: Any) -> dict:
    return build_results(
        model=model,
        dataset="synthetic",
        seed=seed,
        metrics={
            keys.TEST_AUC: auc,
            keys.TEST_LOGLOSS: 1.0 - auc / 2 + seed / 100,
            keys.VAL_AUC: auc - 0.003,
        },
        costs={
            keys.PARAMS_TOTAL: params,
            keys.PARAMS_EMBEDDING: params / 2,
            keys.PARAMS_DENSE: params / 2,
            keys.FLOPS_PER_SAMPLE: 3 * params,
            keys.LATENCY_MS_PER_BATCH: ms + seed / 10,
            keys.TRAIN_SAMPLES_PER_S: 1e4,
        },
        data={},
        config={"seed": seed, "afe": {"variant": "none"}, **config},
    )


def _write(root: Path, results: list[dict]) -> Path:
    for i, result in enumerate(results):  # path order = list order
        write_json_atomic(
            root / f"{i:02d}_{result['model']}_s{result['seed']}" / RESULTS_FILE, result
        )
    return root


def _planted() -> list[dict]:
    return [
        _result(model, seed, auc, params, ms)
        for model, (params, ms, aucs) in PLANTED.items()
        for seed, auc in enumerate(aucs)
    ]


def _column(results: list[dict], model: str, section: str, key: str) -> np.ndarray:
    return np.array([r[section][key] for r in results if r["model"] == model])


def _row(table: pl.DataFrame, model: str) -> dict[str, Any]:
    return table.filter(pl.col("model") == model).row(0, named=True)


def test_means_and_stds_are_numpys_over_seeds() -> None:
    results = _planted()
    table = report_table(results)
    assert table["model"].to_list() == ["dcnv2", "deepfm", "fm", "dnn", "lr"]  # best AUC first
    for model in ("fm", "dnn", "dcnv2"):
        row = _row(table, model)
        for header, section, key in (
            ("test AUC", "metrics", keys.TEST_AUC),
            ("logloss", "metrics", keys.TEST_LOGLOSS),
            ("best val AUC", "metrics", keys.VAL_AUC),
            ("ms/4096", "costs", keys.LATENCY_MS_PER_BATCH),
        ):
            values = _column(results, model, section, key)
            assert row[header] == np.mean(values)
            assert row[f"{header} std"] == np.std(values, ddof=1)
        assert row["seeds"] == 3 and row["params std"] == 0.0
    assert _row(table, "lr")["test AUC std"] is None  # one seed: no spread


def test_p_values_are_scipys_welch_t_test() -> None:
    results = _planted()
    table = report_table(results, baseline="dnn")
    base_auc = _column(results, "dnn", "metrics", keys.TEST_AUC)
    base_loss = _column(results, "dnn", "metrics", keys.TEST_LOGLOSS)
    for model in ("fm", "dcnv2", "deepfm"):
        row = _row(table, model)
        auc = _column(results, model, "metrics", keys.TEST_AUC)
        loss = _column(results, model, "metrics", keys.TEST_LOGLOSS)
        assert row["p test AUC"] == ttest_ind(auc, base_auc, equal_var=False).pvalue
        assert row["p logloss"] == ttest_ind(loss, base_loss, equal_var=False).pvalue
    for model in ("dnn", "lr"):  # the baseline itself; a single seed
        assert _row(table, model)["p test AUC"] is None
        assert _row(table, model)["p logloss"] is None
    assert "p test AUC" not in report_table(results).columns


def test_markdown_has_p_columns_and_explains_them() -> None:
    table = report_table(_planted(), baseline="dnn")
    lines = report.report_markdown(table, "dnn").splitlines()
    assert lines[0].startswith("| model | dataset | seeds | test AUC | p test AUC | logloss |")
    assert lines[2].startswith("| dcnv2 | synthetic | 3 | 0.8002 ± 0.0011 |")
    assert any(line.startswith("| dnn | synthetic | 3 | 0.7399 ± 0.0013 | - |") for line in lines)
    notes = "\n".join(lines)
    assert "ddof=1" in notes and "Welch" in notes and "`dnn`" in notes and "fewer than 2" in notes


def test_pareto_fronts_are_the_planted_groups() -> None:
    table = report_table(_planted())
    assert pareto_front(table, "params")["model"].to_list() == ["lr", "fm", "dcnv2"]
    assert pareto_front(table, "ms/4096")["model"].to_list() == ["lr", "dnn", "deepfm", "dcnv2"]


def test_cli_writes_a_round_tripping_csv_and_valid_pngs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _write(tmp_path / "runs", _planted())
    report_cli.main([str(root), "--baseline", "dnn", "--sweep", "seed"])
    out = root / "report"
    table = report_table(load_results(root), baseline="dnn")
    assert_frame_equal(pl.read_csv(out / "report.csv", schema=table.schema), table)
    assert "| dcnv2 | synthetic | 3 |" in (out / "report.md").read_text()
    printed = capsys.readouterr().out
    assert "dcnv2" in printed and "p test" in printed  # the p-value column is shown
    for name in ("pareto_params.png", "pareto_latency.png", "sweep_seed.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000, name


def _afe_run(ranking: str, budget: int, seed: int, auc: float) -> dict:
    afe = {"variant": "paper", "ranking": ranking, "num_fields": budget, "mi_threshold": 0.001}
    result = _result("dnn", seed, auc, 100.0, 1.0, afe=afe)
    result["afe"] = {"variant": "paper", "fields": [f"f{i}" for i in range(budget)]}
    result["costs"][keys.AFE_FIELDS_AFTER] = float(budget)
    return result


def test_numeric_sweeps_draw_one_line_per_remaining_group() -> None:
    def auc(budget: int, seed: int) -> float:
        return 0.7 + budget / 100 + seed / 1000

    grid = [(rank, k, s) for rank in ("greedy", "random") for k in (8, 4) for s in (0, 1)]
    results = [_afe_run(r, k, s, auc(k, s)) for r, k, s in grid]
    results.append(_result("lr", 0, 0.6, 10.0, 1.0))  # no AFE: left out, not an error
    for key in ("afe.num_fields", "costs/afe/fields_after"):
        table = sweep_table(results, key)
        assert table["model"].to_list() == ["dnn+afe:paper"] * 2 + ["dnn+afe:paper-random"] * 2
        assert table[key].to_list() == [4.0, 8.0, 4.0, 8.0]
        assert table["test AUC"][0] == np.mean([auc(4, 0), auc(4, 1)])
        assert table["test AUC std"][0] == np.std([auc(4, 0), auc(4, 1)], ddof=1)


def test_a_tower_sweep_carries_the_training_cost_beside_the_auc(tmp_path: Path) -> None:
    def run(towers: int, seed: int) -> dict:
        fusion = {"kind": "dtf", "towers": towers}
        result = _result("reaction", seed, 0.78 + towers / 1000, 100.0, 1.0, fusion=fusion)
        result["costs"][keys.TRAIN_SAMPLES_PER_S] = 40_000.0 / towers + seed * 100
        return result

    results = [run(t, s) for t in (1, 2, 4) for s in (0, 1)]
    table = sweep_table(results, "fusion.towers")
    assert table["fusion.towers"].to_list() == [1.0, 2.0, 4.0]
    assert table["train samples/s"].to_list() == [40_050.0, 20_050.0, 10_050.0]
    assert table["train samples/s std"][0] == np.std([40_000.0, 40_100.0], ddof=1)
    figure = plot_sweep(table, "fusion.towers", tmp_path / "towers.png")
    assert figure.read_bytes().startswith(PNG_SIGNATURE)


def test_categorical_sweeps_keep_first_seen_order() -> None:
    def run(schedule: str, seed: int) -> dict:
        fusion = {"kind": "dtf", "towers": 2, "schedule": {"name": schedule}}
        result = _result("reaction", seed, 0.78 + seed / 1000, 100.0, 1.0, fusion=fusion)
        result["metrics"]["test/tower0/auc"] = 0.78
        return result

    results = [run(name, seed) for name in ("step", "cosine") for seed in (0, 1)]
    table = sweep_table(results, "fusion.schedule.name")
    assert table.schema["fusion.schedule.name"] == pl.Enum(["step", "cosine"])
    assert table["model"].to_list() == ["reaction+fusion:dtfx2"] * 2
    assert table["seeds"].to_list() == [2, 2]


def test_a_folder_without_results_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=re.escape(f"no results.json found under {tmp_path}")):
        report_cli.main([str(tmp_path)])


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"model": "lr"}'])
def test_a_malformed_results_file_is_named(tmp_path: Path, text: str) -> None:
    _write(tmp_path, _planted()[:2])
    bad = tmp_path / "zz_broken" / RESULTS_FILE
    bad.parent.mkdir()
    bad.write_text(text)
    with pytest.raises(SystemExit, match=re.escape(f"malformed {bad}")):
        report_cli.main([str(tmp_path)])


def test_an_unknown_baseline_lists_the_labels(tmp_path: Path) -> None:
    _write(tmp_path, _planted())
    with pytest.raises(SystemExit, match="unknown baseline 'xgb'.*dcnv2, deepfm, fm, dnn, lr"):
        report_cli.main([str(tmp_path), "--baseline", "xgb"])
    assert not (tmp_path / "report").exists()  # checked before anything is written


def test_an_unknown_sweep_key_names_the_key_and_the_runs(tmp_path: Path) -> None:
    _write(tmp_path, _planted()[:2])
    with pytest.raises(SystemExit, match=r"'afe\.mi_threshold'.*lr seed=0, fm seed=0"):
        report_cli.main([str(tmp_path), "--sweep", "afe.mi_threshold"])
    with pytest.raises(ResultsError, match="unknown sweep key 'costs/afe/fields_after'"):
        write_report([tmp_path], sweeps=["costs/afe/fields_after"])


def test_several_folders_report_as_one_table(tmp_path: Path) -> None:
    runs = _planted()
    _write(tmp_path / "a", runs[: len(runs) // 2])
    _write(tmp_path / "b", runs[len(runs) // 2 :])
    with pytest.raises(SystemExit, match="2 folders given: name the output folder with --out"):
        report_cli.main([str(tmp_path / "a"), str(tmp_path / "b")])
    report_cli.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "both")])
    _write(tmp_path / "all", runs)
    report_cli.main([str(tmp_path / "all")])
    both = (tmp_path / "both/report.csv").read_text()
    assert both == (tmp_path / "all/report/report.csv").read_text()


def test_a_run_in_two_folders_counts_once_and_a_conflicting_seed_is_refused(
    tmp_path: Path,
) -> None:
    runs = _planted()
    _write(tmp_path / "a", runs)
    _write(tmp_path / "b", runs[:1])  # the same run again (a deterministic re-run)
    table = report_table(require_results(tmp_path / "a") + require_results(tmp_path / "b"))
    assert table["seeds"].to_list() == report_table(runs)["seeds"].to_list()
    changed = copy.deepcopy(runs[0])
    changed["metrics"][keys.TEST_AUC] += 0.01
    _write(tmp_path / "c", [changed])
    with pytest.raises(SystemExit, match=f"{runs[0]['model']} seed 0 appears twice with different"):
        report_cli.main([str(tmp_path / "a"), str(tmp_path / "c"), "--out", str(tmp_path / "out")])


def test_multi_label_runs_get_one_column_pair_per_trained_label() -> None:
    both = {"module": {"labels": ["click", "conversion"]}}
    runs = [_result("dnn", seed, 0.79, 1e5, 1.0, **both) for seed in (0, 1)]
    for seed, run in enumerate(runs):
        run["metrics"] |= {"test/click/auc": 0.79, "test/conversion/auc": 0.73 + seed / 100}
    single = _result("lr", 0, 0.75, 1e4, 0.5)  # one label: no label columns of its own
    table = report_table([*runs, single])
    dnn, lr = _row(table, "dnn"), _row(table, "lr")
    assert dnn["conversion AUC"] == pytest.approx(0.735)
    assert dnn["conversion AUC std"] == pytest.approx(np.std([0.73, 0.74], ddof=1))
    assert lr["conversion AUC"] is None and dnn["click logloss"] is None
    assert "| conversion AUC |" in report_markdown(table, extra=label_columns(runs))
