"""Properties of the information measures: closed forms, sklearn agreement, identities."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import mutual_info_score

from reaction.info.estimators import (
    conditional_mutual_information,
    entropy,
    miller_madow_bias,
    mutual_information,
    mutual_information_batch,
    pair_synergy,
    relevance,
    retention_curve,
    sparse_conditional_mutual_information,
    sparse_mutual_information,
    symmetric_uncertainty,
    value_contributions,
)
from reaction.info.permutation import permutation_null, permutation_null_rows, permuted_tables

TABLES_2D = arrays(
    np.int64,
    st.tuples(st.integers(1, 8), st.integers(1, 6)),
    elements=st.integers(0, 60),
).filter(lambda t: t.sum() > 0)
TABLES_3D = arrays(
    np.int64,
    st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4)),
    elements=st.integers(0, 30),
).filter(lambda t: t.sum() > 0)


def _direct_cmi(t: np.ndarray) -> float:
    """``sum p(x,z,y) log[p(x,z,y) p(y) / (p(x,y) p(z,y))]`` term by term."""
    p = t / t.sum()
    p_xy, p_zy, p_y = p.sum(1), p.sum(0), p.sum((0, 1))
    total = 0.0
    for x, z, y in zip(*np.nonzero(p), strict=True):
        total += p[x, z, y] * np.log(p[x, z, y] * p_y[y] / (p_xy[x, y] * p_zy[z, y]))
    return total


def _cells(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dense ``(X, Z, Y)`` table as a sparse one: the non-empty ``(x, z)`` cells."""
    x, z = np.nonzero(t.sum(2))
    return t[x, z], x, z


@settings(max_examples=60, deadline=None)
@given(TABLES_2D)
def test_plugin_mi_equals_sklearn(table: np.ndarray) -> None:
    expected = mutual_info_score(None, None, contingency=table)
    assert mutual_information(table) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("k", [1, 2, 7, 1000])
def test_entropy_of_uniform_is_log_k(k: int) -> None:
    assert entropy(np.full(k, 5)) == pytest.approx(np.log(k), abs=1e-12)


@pytest.mark.parametrize(("a", "b"), [(1, 1), (1, 3), (7, 93), (70_000, 30_000)])
def test_entropy_of_two_point_distribution(a: int, b: int) -> None:
    p = a / (a + b)
    assert entropy([a, b]) == pytest.approx(-p * np.log(p) - (1 - p) * np.log(1 - p), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(TABLES_2D)
def test_miller_madow_adds_its_formula(table: np.ndarray) -> None:
    n, m = table.sum(), np.count_nonzero(table)
    assert miller_madow_bias(table) == pytest.approx((m - 1) / (2 * n))
    corrected = entropy(table, "miller_madow") - entropy(table)
    assert corrected == pytest.approx((m - 1) / (2 * n), abs=1e-12)
    m_x, m_y = np.count_nonzero(table.sum(1)), np.count_nonzero(table.sum(0))
    mi_shift = mutual_information(table, "miller_madow") - mutual_information(table)
    assert mi_shift == pytest.approx((m_x - 1 + m_y - 1 - (m - 1)) / (2 * n), abs=1e-12)


def test_miller_madow_reduces_the_bias_of_the_entropy() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(50))
    truth = -np.sum(p * np.log(p))
    samples = rng.multinomial(200, p, size=300)
    plugin = np.mean([entropy(s) for s in samples])
    corrected = np.mean([entropy(s, "miller_madow") for s in samples])
    assert abs(corrected - truth) < 0.3 * abs(plugin - truth)


@settings(max_examples=40, deadline=None)
@given(TABLES_3D)
def test_conditional_mi_equals_direct_sum(table: np.ndarray) -> None:
    assert conditional_mutual_information(table) == pytest.approx(_direct_cmi(table), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(TABLES_3D)
def test_chain_rule(table: np.ndarray) -> None:
    """``I(X;Y1,Y2) = I(X;Y2) + I(X;Y1|Y2)`` with the table read as ``(X, Y1, Y2)``."""
    joint = mutual_information(table.reshape(table.shape[0], -1))
    parts = mutual_information(table.sum(1)) + conditional_mutual_information(table)
    assert joint == pytest.approx(parts, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(TABLES_3D, st.sampled_from(["none", "miller_madow"]))
def test_sparse_measures_equal_dense_ones(table: np.ndarray, correction: str) -> None:
    counts, x, z = _cells(table)
    dense_mi = mutual_information(table.sum(2), correction)
    assert sparse_mutual_information(counts, x, z, correction) == pytest.approx(dense_mi)
    dense_cmi = conditional_mutual_information(table, correction)
    assert sparse_conditional_mutual_information(counts, x, z, correction) == pytest.approx(
        dense_cmi
    )


@settings(max_examples=30, deadline=None)
@given(TABLES_3D)
def test_synergy_is_interaction_information(table: np.ndarray) -> None:
    """``I(X,Z;Y) - I(X;Y) - I(Z;Y) = I(X;Z|Y) - I(X;Z)``."""
    counts, x, z = _cells(table)
    direct = (
        mutual_information(table.reshape(-1, table.shape[2]))
        - mutual_information(table.sum(1))
        - mutual_information(table.sum(0))
    )
    assert pair_synergy(counts, x, z) == pytest.approx(direct, abs=1e-9)
    identity = conditional_mutual_information(table) - mutual_information(table.sum(2))
    assert direct == pytest.approx(identity, abs=1e-9)


def test_xor_has_positive_synergy_and_no_marginal_information() -> None:
    table = np.zeros((2, 2, 2), dtype=np.int64)
    for a in range(2):
        for b in range(2):
            table[a, b, a ^ b] = 25
    counts, x, z = _cells(table)
    assert mutual_information(table.sum(1)) == pytest.approx(0.0, abs=1e-12)
    assert pair_synergy(counts, x, z) == pytest.approx(np.log(2))


@settings(max_examples=40, deadline=None)
@given(TABLES_2D)
def test_value_contributions_sum_to_plugin_mi(table: np.ndarray) -> None:
    contributions = value_contributions(table)
    assert contributions.sum() == pytest.approx(mutual_information(table), abs=1e-9)
    assert np.all(contributions >= -1e-15)


def test_shrinkage_discounts_rare_values_more() -> None:
    table = np.array([[1, 0], [1000, 0], [500, 1500]])
    raw, shrunk = value_contributions(table), value_contributions(table, shrinkage=10.0)
    assert shrunk[0] / raw[0] < 0.2 < 0.9 < shrunk[1] / raw[1] <= 1.0
    curve = retention_curve(shrunk)
    assert curve[-1] == pytest.approx(1.0) and np.all(np.diff(curve) >= 0)


def test_relevance_and_symmetric_uncertainty() -> None:
    table = np.array([[30, 10], [10, 50]])
    h_y = entropy(table.sum(0))
    assert relevance(table, "none") == pytest.approx(mutual_information(table) / h_y)
    h = entropy([5, 7, 9])
    assert symmetric_uncertainty(h, h, h) == pytest.approx(1.0)
    assert symmetric_uncertainty(0.0, 1.0, 2.0) == 0.0


def test_batched_mi_equals_per_table() -> None:
    stack = np.random.default_rng(1).integers(0, 40, (5, 6, 3))
    for correction in ("none", "miller_madow"):
        batch = mutual_information_batch(stack, correction)
        assert batch == pytest.approx([mutual_information(t, correction) for t in stack])


def test_permuted_tables_keep_both_margins() -> None:
    rows, labels = np.array([5, 0, 3, 7, 1, 40]), np.array([20, 30, 6])
    tables = permuted_tables(np.random.default_rng(0), rows, labels, num=50)
    assert np.all(tables.sum(2) == rows) and np.all(tables.sum(1) == labels)
    assert len({t.tobytes() for t in tables}) > 10


@pytest.mark.parametrize("correction", ["none", "miller_madow"])
def test_table_permutation_null_matches_row_permutations(correction: str) -> None:
    rng = np.random.default_rng(3)
    x = np.minimum(rng.zipf(1.5, 20_000), 40) - 1
    y = (rng.random(20_000) < 0.3).astype(np.int64)
    table = np.bincount(x * 2 + y, minlength=80).reshape(40, 2)
    for q in (0.5, 0.9):
        from_table = permutation_null(table, 1000, q, 0, correction)
        from_rows = permutation_null_rows(x, y, 1000, q, 1, correction)
        assert from_table == pytest.approx(from_rows, rel=0.1, abs=1e-5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: entropy([]), "empty"),
        (lambda: entropy([0, 0]), "empty table"),
        (lambda: entropy([3, -1]), "negative"),
        (lambda: mutual_information([1, 2]), "2-D"),
        (lambda: entropy([1, 2], correction="bayes"), "bayes"),
        (lambda: value_contributions([[1, 2]], shrinkage=-1), "shrinkage"),
        (lambda: permutation_null([[1.5, 2]]), "integer"),
    ],
)
def test_bad_input_raises_with_the_offending_values(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_estimators_import_neither_matplotlib_nor_torch() -> None:
    code = (
        "import sys, reaction.info.estimators, reaction.info.redundancy;"
        "assert 'matplotlib' not in sys.modules and 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
