"""Gradient-boosted trees: scikit-learn's ``HistGradientBoostingClassifier`` on the fields as
categorical features, ranked by permutation importance on the holdout rows (the histogram
booster has no impurity importance; ERASE's ``gbdt`` uses ``GradientBoostingClassifier``'s,
which is too slow for one-hot-sized data on a CPU). The booster handles at most 255 categories
per feature, so each field keeps its 254 most frequent values and pools the rest.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.permutation import auc_drops

MAX_CATEGORIES = 254  # + 1 pooled "other" category: the booster's 255 bins


def frequency_codes(ids: NDArray) -> list[NDArray]:
    """Per field, id -> its frequency rank in ``ids`` (capped at ``MAX_CATEGORIES``)."""
    codes = []
    for column in ids.T:
        values, counts = np.unique(column, return_counts=True)
        top = values[np.argsort(-counts, kind="stable")][:MAX_CATEGORIES]
        code = np.full(int(column.max()) + 1, MAX_CATEGORIES, dtype=np.int64)
        code[top] = np.arange(top.size)
        codes.append(code)
    return codes


def encode(ids: NDArray, codes: list[NDArray]) -> NDArray:
    out = np.empty(ids.shape, dtype=np.int64)
    for f, code in enumerate(codes):
        column = np.minimum(ids[:, f], code.size - 1)  # unseen large ids -> a pooled/other code
        out[:, f] = np.where(ids[:, f] < code.size, code[column], MAX_CATEGORIES)
    return out


def gbdt(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    start = time.perf_counter()
    codes = frequency_codes(data.ids)
    model = HistGradientBoostingClassifier(
        max_iter=cfg.trees,
        categorical_features=[True] * len(codes),
        early_stopping=False,
        random_state=seed,
    )
    model.fit(encode(data.ids, codes), data.y)

    def score(ids: NDArray) -> NDArray:
        return model.predict_proba(encode(ids, codes))[:, 1]

    drops = auc_drops(score, data, cfg.repeats, seed)
    return FieldScores(drops, search_seconds=time.perf_counter() - start)
