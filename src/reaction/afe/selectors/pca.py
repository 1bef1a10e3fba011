"""PCA: how much of the one-hot data's variance each field's block carries in the leading
principal components (the paper's "PCA" baseline, on one-hot blocks).

Score of field ``f``: ``sum_j evr_j ||W_j[block_f]||^2`` over the first ``components`` axes, with
``evr_j`` the explained-variance ratio and ``W_j`` the unit loading vector (so the scores sum to
the variance the components explain). PCA never sees the label: it finds spread, not signal.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.onehot import block_sums, one_hot


def pca(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    x = one_hot(data.ids, data.vocab_sizes)
    k = min(cfg.components, min(x.shape) - 1)
    fit = PCA(n_components=k, svd_solver="arpack", random_state=seed).fit(x)
    loads = block_sums(fit.components_**2, data.vocab_sizes)  # (k, F), rows sum to 1
    scores = np.asarray(fit.explained_variance_ratio_) @ loads
    return FieldScores(dict(zip(data.fields, scores.tolist(), strict=True)))
