"""The cross-fitted conditional information: ~0 or below for an independent field whatever its
cardinality, positive for a planted interaction no marginal shows, <= 0 for a copy."""

from __future__ import annotations

import numpy as np
import pytest

from reaction.info.counts import RowSample
from reaction.info.crossfit import crossfit_conditional_information, crossfit_information

N = 40_000


def _sample(columns: dict[str, np.ndarray], y: np.ndarray) -> RowSample:
    ids = np.stack(list(columns.values()), 1).astype(np.int32)
    return RowSample(tuple(columns), ("click",), ids, y.astype(np.int64), y.size, 0)


@pytest.fixture(scope="module")
def sample() -> RowSample:
    rng = np.random.default_rng(0)
    s = rng.integers(0, 50, N)
    m = rng.integers(0, 2000, N)  # sparse with s: ~0.4 rows per (m, s) cell
    inter = rng.integers(0, 2, N)  # XOR with s's parity: no marginal, all interaction
    logit = 1.5 * (2 * ((inter + s) % 2) - 1) + 0.05 * (s - 25)
    y = (rng.random(N) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    copy = np.where(rng.random(N) < 0.9, s, rng.integers(0, 50, N))
    return _sample({"s": s, "noise": m, "inter": inter, "copy": copy}, y)


def test_an_independent_high_cardinality_field_scores_no_information(sample) -> None:
    held_out = crossfit_conditional_information(sample, "noise", "s")
    assert held_out.gain <= 0 or held_out.z < 2


def test_an_interaction_without_marginal_information_is_found(sample) -> None:
    assert abs(crossfit_information(sample, "inter").gain) < 0.002
    held_out = crossfit_conditional_information(sample, "inter", "s")
    assert held_out.model == "cell" and held_out.gain > 0.1 and held_out.z > 10


def test_a_copy_adds_nothing_to_its_source(sample) -> None:
    assert crossfit_information(sample, "copy").z > 5
    assert crossfit_conditional_information(sample, "copy", "s").gain <= 0


def test_shrinkage_must_be_positive(sample) -> None:
    with pytest.raises(ValueError, match="shrinkage must be > 0"):
        crossfit_conditional_information(sample, "inter", "s", shrinkage=0.0)
