"""Field selectors other than AFE, all on AFE's contract: each ranks the fields on a row sample of
the training split and ``reaction.afe.selectors.plan`` turns the ranking into an ``AFEPlan``
(chosen fields in rank order with their score, dropped fields with a reason), so every method runs
in front of any model through ``reaction.afe.net`` (``afe=<method> afe.num_fields=k``).

This module only names the methods (``reaction.afe.config`` imports it); ``registry`` maps each
name to its function. Definitions follow ERASE (Jia et al., "ERASE: Benchmarking Feature
Selection Methods for Deep Recommender Systems", SIGIR 2024); deviations are noted per method.
"""

METHODS: tuple[str, ...] = (
    "random",
    "pca",
    "lasso",
    "gbdt",
    "permutation",
    "autofield",
    "adafs",
    "optfs",
    "lpfs",
    "sfs",
    "tayfcs",
    "idarts",
)
# Train a model on the sample: their plans report the search cost (seconds) on its own.
LEARNED: tuple[str, ...] = tuple(m for m in METHODS if m not in ("random", "pca"))
