"""Method name (``afe.variant``) -> selector function ``(SearchData, SearchConfig, seed)``."""

from __future__ import annotations

from collections.abc import Callable

from reaction.afe.selectors import METHODS
from reaction.afe.selectors.adafs import adafs
from reaction.afe.selectors.autofield import autofield
from reaction.afe.selectors.base import FieldScores, SearchConfig, SearchData
from reaction.afe.selectors.gbdt import gbdt
from reaction.afe.selectors.idarts import idarts
from reaction.afe.selectors.lasso import lasso
from reaction.afe.selectors.lpfs import lpfs
from reaction.afe.selectors.optfs import optfs
from reaction.afe.selectors.pca import pca
from reaction.afe.selectors.permutation import permutation
from reaction.afe.selectors.random import random
from reaction.afe.selectors.sfs import sfs
from reaction.afe.selectors.tayfcs import tayfcs

Selector = Callable[[SearchData, SearchConfig, int], FieldScores]

SELECTORS: dict[str, Selector] = {
    "random": random,
    "pca": pca,
    "lasso": lasso,
    "gbdt": gbdt,
    "permutation": permutation,
    "autofield": autofield,
    "adafs": adafs,
    "optfs": optfs,
    "lpfs": lpfs,
    "sfs": sfs,
    "tayfcs": tayfcs,
    "idarts": idarts,
}
if tuple(SELECTORS) != METHODS:  # one list of names: the config's and this one agree
    raise ImportError(f"selector registry {tuple(SELECTORS)} != METHODS {METHODS}")
