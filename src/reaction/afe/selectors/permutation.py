"""Permutation importance: the holdout AUC a trained model loses when one field is shuffled.

ERASE's ``permutation`` shuffles the columns of a random forest on the training rows; the issue
asks for a trained DNN, so here the search network (no gate) is trained on the fit part and each
field's column is shuffled on the holdout part (``repeats`` times, mean AUC drop). The same
scorer ranks the fields of ``gbdt``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.search_net import Gate, SearchNet, predict, train

Scorer = Callable[[NDArray], NDArray]


def auc_drops(score: Scorer, data: SearchData, repeats: int, seed: int) -> dict[str, float]:
    """Mean holdout AUC lost per field when its column is permuted (``repeats`` shuffles)."""
    rng = np.random.default_rng(seed)
    base = roc_auc_score(data.holdout_y, score(data.holdout_ids))
    drops = {}
    for f, name in enumerate(data.fields):
        aucs = []
        for _ in range(repeats):
            shuffled = data.holdout_ids.copy()
            shuffled[:, f] = rng.permutation(shuffled[:, f])
            aucs.append(roc_auc_score(data.holdout_y, score(shuffled)))
        drops[name] = float(base - np.mean(aucs))
    return drops


def permutation(data: SearchData, cfg: SearchConfig, seed: int) -> FieldScores:
    start = time.perf_counter()
    net = SearchNet(data, cfg, Gate())
    train(net, data, cfg, seed)
    drops = auc_drops(lambda ids: predict(net, ids), data, cfg.repeats, seed)
    return FieldScores(drops, search_seconds=time.perf_counter() - start)
