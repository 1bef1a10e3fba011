"""Properties of the synthetic generator: determinism, exact splits, schema, planted structure,
the streaming Bayes AUC, and the difficulty targets the rest of the project relies on."""

from __future__ import annotations

import filecmp
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, mutual_info_score, roc_auc_score

from reaction.data import synthetic
from reaction.data.synthetic import (
    GroundTruth,
    SyntheticConfig,
    ensure_generated,
    generate,
    iter_chunks,
    load_ground_truth,
)
from reaction.data.synthetic_truth import SPLITS, TRUTH_FILE, ProbabilityHistogram

SMALL = SyntheticConfig(num_rows=30_000, chunk_rows=10_000, row_group_rows=4_096)


def _read(out: Path, split: str) -> pl.DataFrame:
    return pl.read_parquet(out / f"{split}.parquet")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("small")
    return out, generate(SMALL, out)


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("default")
    return out, generate(SyntheticConfig(), out)


def test_same_seed_same_bytes_other_seed_other_data(small, tmp_path: Path) -> None:
    out, _ = small
    generate(SMALL, tmp_path / "again")
    generate(replace(SMALL, seed=1), tmp_path / "other")
    for split in SPLITS:
        name = f"{split}.parquet"
        assert filecmp.cmp(out / name, tmp_path / "again" / name, shallow=False)
        assert not _read(out, split).equals(_read(tmp_path / "other", split))
    assert (out / TRUTH_FILE).read_text() == (tmp_path / "again" / TRUTH_FILE).read_text()


@pytest.mark.parametrize(("rows", "val", "test"), [(12_345, 0.15, 0.05), (1_001, 0.1, 0.0)])
def test_split_sizes_are_exact(tmp_path: Path, rows: int, val: float, test: float) -> None:
    cfg = replace(SMALL, num_rows=rows, val_fraction=val, test_fraction=test)
    truth = generate(cfg, tmp_path)
    expected = {"val": round(rows * val), "test": round(rows * test)}
    expected["train"] = rows - expected["val"] - expected["test"]
    assert truth.split_rows == expected
    for split in SPLITS:
        assert pq.ParquetFile(tmp_path / f"{split}.parquet").metadata.num_rows == expected[split]
    if expected["test"] == 0:
        assert truth.bayes_auc["click"]["test"] is None


def test_schema_and_null_rates_match_the_truth(small) -> None:
    out, truth = small
    df = pl.concat([_read(out, s) for s in SPLITS])
    numeric, categorical = truth.names(kind="numeric"), truth.names(kind="categorical")
    assert df.columns == ["click", *numeric, *categorical]
    assert 8 <= len(numeric) <= 13 and 20 <= len(categorical) <= 26
    assert df.schema["click"] == pl.Int8 and set(df["click"].unique()) == {0, 1}
    for name in numeric + categorical:
        f = truth.field(name)
        assert df.schema[name] == (pl.Float64 if f.kind == "numeric" else pl.String)
        tol = 4 * np.sqrt(f.missing_rate * (1 - f.missing_rate) / len(df)) + 1e-3
        assert abs(df[name].null_count() / len(df) - f.missing_rate) <= tol, name
    hashed = df.select(pl.col(categorical).str.contains("^[0-9a-f]{8}$").all())
    assert all(hashed.row(0))  # Criteo-like 8-hex-digit tokens (nulls ignored)
    counts = df.select(pl.col(numeric)).to_numpy()
    finite = counts[~np.isnan(counts)]
    assert np.all(finite == np.floor(finite)) and (finite < 0).mean() < 0.01
    assert np.percentile(finite, 99.9) > 50 * max(np.median(finite), 1)  # heavy tail


def test_roles_and_documented_structure(small) -> None:
    _, truth = small
    roles = {f.role for f in truth.fields}
    assert roles == {"informative", "redundant", "noise", "long_tail"}
    for f in truth.fields:
        has_effect = f.role in ("informative", "long_tail")
        assert bool(f.strength) == has_effect, f.name
        assert (f.source is not None) == (f.role == "redundant")
    strengths = sorted(truth.field(n).strength["click"] for n in truth.names("informative"))
    assert strengths[-1] > 5 * strengths[0]  # a spread from strong to weak
    for pair in truth.interactions:
        assert all(truth.field(n).role == "informative" for n in pair.fields)
        assert max(pair.shape) <= 12 and pair.effect_var > 0
    assert 0.2 <= truth.positive_rate["click"]["train"] <= 0.3


def test_redundant_copies_agree_at_the_keep_rate(small) -> None:
    out, truth = small
    df = _read(out, "train")
    for name in truth.names(role="redundant"):
        f, src = truth.field(name), truth.field(truth.field(name).source)
        pairs = df.select(pl.col(f.source).alias("s"), pl.col(name).alias("c")).drop_nulls()
        top = pairs.group_by("s", "c").len().sort("len", descending=True).unique("s", keep="first")
        mapped = pairs.join(top.select("s", pl.col("c").alias("m")), on="s")
        agree = (mapped["c"] == mapped["m"]).mean()
        expected = f.keep_prob + (1 - f.keep_prob) / src.cardinality  # redraws may coincide
        assert abs(agree - expected) < 0.015, (name, agree, expected)


def test_histogram_auc_and_logloss_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    for prob in (rng.beta(0.8, 2.5, 200_000), np.round(rng.beta(2, 2, 50_000), 2)):
        label = (rng.random(len(prob)) < prob).astype(np.int8)
        hist = ProbabilityHistogram()
        for part in np.array_split(np.arange(len(prob)), 3):
            hist.update(prob[part], label[part])
        assert abs(hist.auc() - roc_auc_score(label, prob)) < 1e-4
        assert abs(hist.logloss() - log_loss(label, prob)) < 1e-9
    one_class = ProbabilityHistogram()
    one_class.update(np.array([0.2, 0.7]), np.array([1, 1]))
    assert one_class.auc() is None


def test_bayes_metrics_are_those_of_the_true_probabilities(small) -> None:
    out, truth = small
    rows = list(iter_chunks(SMALL))
    split = np.concatenate([r["split"] for r in rows])
    prob = np.concatenate([r["p_click"] for r in rows])
    click = np.concatenate([r["click"] for r in rows])
    for i, name in enumerate(SPLITS):
        mask = split == i
        assert np.array_equal(click[mask], _read(out, name)["click"].to_numpy())
        assert abs(truth.bayes_auc["click"][name] - roc_auc_score(click[mask], prob[mask])) < 1e-3
        assert truth.bayes_logloss["click"][name] == pytest.approx(
            log_loss(click[mask], prob[mask])
        )


def test_chunking_changes_nothing_and_row_groups_are_full(small, tmp_path: Path) -> None:
    out, _ = small
    truth = generate(replace(SMALL, chunk_rows=7_777), tmp_path)  # 30_000 % 7_777 != 0
    assert sum(truth.split_rows.values()) == SMALL.num_rows
    for split in SPLITS:
        assert filecmp.cmp(out / f"{split}.parquet", tmp_path / f"{split}.parquet", shallow=False)
        meta = pq.ParquetFile(tmp_path / f"{split}.parquet").metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert all(s == SMALL.row_group_rows for s in sizes[:-1]) and sizes[-1] > 0


def test_ensure_generated_reuses_only_a_matching_generation(small, tmp_path: Path) -> None:
    out, truth = small
    stamp = (out / "train.parquet").stat().st_mtime_ns
    assert ensure_generated(replace(SMALL, chunk_rows=999), out) == truth
    assert (out / "train.parquet").stat().st_mtime_ns == stamp
    other = ensure_generated(replace(SMALL, num_rows=5_000), tmp_path)
    assert ensure_generated(replace(SMALL, num_rows=5_000, seed=3), tmp_path) != other
    assert load_ground_truth(tmp_path).config["seed"] == 3


def test_a_failed_run_leaves_nothing_that_looks_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(replace(SMALL, num_rows=2_000), tmp_path)

    def boom(*args: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(synthetic, "_to_table", boom)
    with pytest.raises(RuntimeError):
        generate(replace(SMALL, num_rows=3_000), tmp_path)
    assert not (tmp_path / TRUTH_FILE).exists()
    assert not list(tmp_path.glob("*.partial"))


def test_invalid_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="fractions"):
        SyntheticConfig(val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ValueError, match="informative"):
        SyntheticConfig(num_informative=4, num_interaction_pairs=3)


def test_conversion_fields_drive_conversion_only(tmp_path: Path) -> None:
    cfg = replace(SMALL, num_rows=100_000, chunk_rows=50_000)
    truth = generate(replace(cfg, conversion=True), tmp_path / "conv")
    generate(cfg, tmp_path / "click")
    df = _read(tmp_path / "conv", "train")
    only = truth.names(role="conversion_only")
    assert len(only) >= 2 and set(only) <= set(truth.labels["conversion"].fields)
    assert not set(only) & set(truth.labels["click"].fields)
    assert df.drop(["conversion", *only]).equals(_read(tmp_path / "click", "train"))
    assert 0.6 < truth.bayes_auc["conversion"]["test"] < 0.9
    noise = [n for n in truth.names("noise", "categorical") if truth.field(n).cardinality <= 50]
    noise_mi = max(mutual_info_score(df["conversion"], df[n].fill_null("")) for n in noise)
    shuffled = np.random.default_rng(0).permutation(df["conversion"].to_numpy())
    for name in only:
        x = df[name].fill_null("").to_numpy()
        baseline = mutual_info_score(shuffled, x)  # the finite-sample bias of MI
        assert mutual_info_score(df["conversion"], x) > 10 * max(baseline, noise_mi)
        assert mutual_info_score(df["click"], x) < 3 * baseline + 1e-4


# ------------------------------------------------------------------------- difficulty targets
def _keys(df: pl.DataFrame, truth: GroundTruth, fields: list[str], pairs: list) -> pl.DataFrame:
    """Criteo-style discrete keys: numerics by x if x <= 2 else floor(ln(x)^2); null = a value."""
    exprs = []
    for name in fields:
        if truth.field(name).kind == "numeric":
            x = pl.col(name)
            bucket = pl.when(x <= 2).then(x).otherwise(100 + x.log().pow(2).floor())
            exprs.append(bucket.cast(pl.String).fill_null("na").alias(name))
        else:
            exprs.append(pl.col(name).fill_null("na"))
    for a, b in pairs:
        joint = pl.format("{}|{}", pl.col(a).fill_null("na"), pl.col(b).fill_null("na"))
        exprs.append(joint.alias(f"{a}*{b}"))
    return df.select(exprs)


def _one_hot(train: pl.DataFrame, test: pl.DataFrame, min_count: int = 10) -> list[sp.csr_matrix]:
    """One-hot with a train vocabulary of values seen >= min_count times; the rest share an id."""
    codes: list[list[np.ndarray]] = [[], []]
    offset = 0
    for col in train.columns:
        vocab = train[col].value_counts().filter(pl.col("count") >= min_count)
        vocab = vocab.select(col).with_row_index("id")
        for i, df in enumerate((train, test)):
            ids = df.select(col).join(vocab, on=col, how="left", maintain_order="left")["id"]
            codes[i].append(ids.fill_null(vocab.height).to_numpy().astype(np.int64) + offset)
        offset += vocab.height + 1
    out = []
    for cols in codes:
        n, k = len(cols[0]), len(cols)
        indptr = np.arange(0, n * k + 1, k)
        out.append(sp.csr_matrix((np.ones(n * k), np.stack(cols, 1).ravel(), indptr), (n, offset)))
    return out


def _lr_test_auc(out: Path, truth: GroundTruth, fields: list[str], pairs: list, rows: int) -> float:
    train, test = _read(out, "train").head(rows), _read(out, "test")
    x_train, x_test = _one_hot(
        _keys(train, truth, fields, pairs), _keys(test, truth, fields, pairs)
    )
    model = LogisticRegression(C=0.1, max_iter=500).fit(x_train, train["click"].to_numpy())
    return roc_auc_score(test["click"].to_numpy(), model.predict_proba(x_test)[:, 1])


def test_bayes_auc_is_criteo_like(default) -> None:
    _, truth = default
    assert 0.76 <= truth.bayes_auc["click"]["test"] <= 0.84
    assert sum(truth.split_rows.values()) == 400_000


def test_main_effects_alone_miss_the_interactions(default) -> None:
    out, truth = default
    auc = _lr_test_auc(out, truth, truth.names(), [], rows=100_000)
    assert auc <= truth.bayes_auc["click"]["test"] - 0.02


def test_true_structure_is_learnable_from_the_train_split(default) -> None:
    out, truth = default
    pairs = [p.fields for p in truth.interactions]
    auc = _lr_test_auc(out, truth, truth.informative("click"), pairs, rows=400_000)
    assert auc >= truth.bayes_auc["click"]["test"] - 0.006
