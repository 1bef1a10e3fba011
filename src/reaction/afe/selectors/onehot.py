"""One-hot blocks of the sampled ids: what PCA, LASSO and GBDT read instead of embeddings."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray


def offsets(vocab_sizes: tuple[int, ...]) -> NDArray:
    """First column of each field's block."""
    return np.concatenate([[0], np.cumsum(vocab_sizes)[:-1]]).astype(np.int64)


def one_hot(ids: NDArray, vocab_sizes: tuple[int, ...]) -> sp.csr_matrix:
    """``(n, F)`` ids -> ``(n, sum V)`` sparse 0/1 matrix, field after field."""
    n, f = ids.shape
    cols = (ids + offsets(vocab_sizes)).ravel()
    rows = np.repeat(np.arange(n), f)
    data = np.ones(n * f, dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n, sum(vocab_sizes)))


def block_sums(values: NDArray, vocab_sizes: tuple[int, ...]) -> NDArray:
    """``(..., sum V)`` -> ``(..., F)``: the sum of each field's block."""
    return np.add.reduceat(values, offsets(vocab_sizes), axis=-1)
