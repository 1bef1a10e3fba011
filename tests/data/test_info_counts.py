"""Count tables from parquet: the streaming paths equal plain numpy counts on the same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reaction.data.preprocess import PreprocessConfig, load_or_build
from reaction.data.sources.synthetic import SyntheticSource
from reaction.data.synthetic import SyntheticConfig
from reaction.info.counts import count_fields, label_table, pair_counts, sample_rows
from reaction.info.estimators import (
    entropy,
    sparse_conditional_mutual_information,
    sparse_mutual_information,
)
from reaction.info.pairs import pair_measures

ROWS = 20_000
LABELS = ("click", "conversion")
VOCAB = {"small": 7, "mid": 300, "big": 6000}


def _numpy_counts(ids: np.ndarray, codes: np.ndarray, width: int) -> dict[int, np.ndarray]:
    """``{id: (width,) counts}`` the obvious way."""
    out: dict[int, np.ndarray] = {}
    for i, c in zip(ids.tolist(), codes.tolist(), strict=True):
        out.setdefault(i, np.zeros(width, dtype=np.int64))[c] += 1
    return out


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A preprocessed-like split: Int32 ids (0 missing, 1 OOV, 2..), Float32 0/1 labels."""
    rng = np.random.default_rng(0)
    columns = {
        name: rng.zipf(1.3, ROWS).clip(max=size - 1).astype(np.int32) - 1
        for name, size in VOCAB.items()
    }
    columns = {name: np.clip(c, 0, None) for name, c in columns.items()}
    columns["row"] = np.arange(ROWS, dtype=np.int32)  # a unique id per row: finds duplicates
    columns["click"] = (rng.random(ROWS) < 0.3).astype(np.float32)
    columns["conversion"] = (rng.random(ROWS) < 0.1).astype(np.float32)
    path = tmp_path_factory.mktemp("counts") / "train.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=3_000)
    return path, columns


def _codes(columns: dict[str, np.ndarray]) -> np.ndarray:
    return columns["click"].astype(np.int64) + 2 * columns["conversion"].astype(np.int64)


@pytest.mark.parametrize("dense_max_cells", [2**24, 0])  # bincount path, polars group-by path
def test_streaming_counts_equal_numpy_counts(split, dense_max_cells: int) -> None:
    path, columns = split
    tables = count_fields(path, list(VOCAB), LABELS, dense_max_cells=dense_max_cells)
    assert tables.num_rows == ROWS
    for name in VOCAB:
        expected = _numpy_counts(columns[name], _codes(columns), 4)
        got = tables[name]
        assert got.ids.tolist() == sorted(expected)
        assert np.array_equal(got.counts, np.stack([expected[i] for i in got.ids.tolist()]))


def test_label_tables_marginalise_the_joint_label(split) -> None:
    path, columns = split
    counts = count_fields(path, ["mid"], LABELS)["mid"]
    for label in LABELS:
        expected = _numpy_counts(columns["mid"], columns[label].astype(np.int64), 2)
        assert np.array_equal(counts.table(label), np.stack([expected[i] for i in counts.ids]))
    both = counts.table("conversion", "click")  # axes in the order asked for
    assert np.array_equal(both[:, 1, 0], counts.counts[:, 2])  # conversion=1, click=0 is code 2
    with pytest.raises(ValueError, match="clicks"):
        label_table(counts.counts, LABELS, ("clicks",))


def test_sample_is_uniform_without_replacement_and_seeded(split) -> None:
    path, columns = split
    sample = sample_rows(path, ["row", "mid"], LABELS, 5_000, seed=3)
    rows = sample.ids[:, 0]
    assert sample.size == 5_000 and sample.sampled and np.unique(rows).size == 5_000
    assert np.array_equal(sample.ids[:, 1], columns["mid"][rows])
    assert np.array_equal(sample.label_codes, _codes(columns)[rows])
    again = sample_rows(path, ["row", "mid"], LABELS, 5_000, seed=3)
    assert np.array_equal(again.ids, sample.ids)
    whole = sample_rows(path, ["row"], LABELS, 10**9)
    assert not whole.sampled and np.array_equal(np.sort(whole.ids[:, 0]), np.arange(ROWS))


@pytest.mark.parametrize(("a", "b"), [("small", "mid"), ("mid", "big")])  # dense, np.unique
def test_pair_counts_equal_numpy_counts(split, a: str, b: str) -> None:
    path, columns = split
    sample = sample_rows(path, list(VOCAB), LABELS, 10**9)
    pair = pair_counts(sample, a, b)
    keys = columns[a].astype(np.int64) * 10**6 + columns[b]
    expected = _numpy_counts(keys, _codes(columns), 4)
    got_keys = pair.x_ids[pair.x_index].astype(np.int64) * 10**6 + pair.z_ids[pair.z_index]
    assert sorted(got_keys.tolist()) == sorted(expected)
    for key, counts in zip(got_keys.tolist(), pair.counts, strict=True):
        assert np.array_equal(counts, expected[key])


def test_pair_measures_equal_the_estimators_on_pair_tables(split) -> None:
    path, _ = split
    sample = sample_rows(path, list(VOCAB), LABELS, 8_000, seed=1)
    measures = pair_measures(sample, ("click",), "miller_madow", max_sparse_share=1.0)
    pair = pair_counts(sample, "mid", "big")
    i, j = measures.index("mid"), measures.index("big")
    args = (pair.x_index, pair.z_index, "miller_madow")
    assert measures.mi[i, j] == pytest.approx(sparse_mutual_information(pair.counts, *args))
    cmi = sparse_conditional_mutual_information(pair.table("click"), *args)
    assert measures.conditional_mi["click"][i, j] == pytest.approx(cmi)
    assert measures.entropy[i] == pytest.approx(entropy(np.bincount(sample.codes("mid")[1])))


def test_bad_inputs_name_what_is_wrong(split, tmp_path: Path) -> None:
    path, _ = split
    with pytest.raises(ValueError, match="nope"):
        count_fields(path, ["nope"], LABELS)
    with pytest.raises(ValueError, match=r"outside \[0, 5\)"):
        count_fields(path, ["mid"], LABELS, vocab_sizes={"mid": 5})
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"f": np.zeros(3, np.int32), "click": np.float32([0, 2, 1])}), bad)
    with pytest.raises(ValueError, match="must be 0/1"):
        count_fields(bad, ["f"], ["click"])


def test_counts_of_a_preprocessed_cache_cover_every_training_row(data_dir: Path) -> None:
    source = SyntheticSource(str(data_dir / "raw"), SyntheticConfig(num_rows=30_000))
    data = load_or_build(source.prepare(), PreprocessConfig(min_count=10), data_dir / "cache")
    fm = data.feature_map
    path = data.split_path("train")
    tables = count_fields(
        path, fm.field_names, fm.labels, dict(zip(fm.field_names, fm.vocab_sizes, strict=True))
    )
    frame = pq.read_table(path)
    for name in fm.field_names:
        ids = frame.column(name).to_numpy()
        assert np.array_equal(tables[name].counts.sum(1), np.bincount(ids)[tables[name].ids])
        assert tables[name].num_rows == data.num_rows("train")
