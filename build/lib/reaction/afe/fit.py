"""AFE in a training run: the config node -> a plan fitted on the run's training split -> costs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig
from torch import nn

from reaction.afe.config import AFEConfig
from reaction.afe.net import NetFactory, takes_flat_embeddings
from reaction.afe.plan import AFEPlan, fit_plan
from reaction.config.nodes import dataclass_from_node
from reaction.config.structure import model_class
from reaction.data.preprocess import PreprocessedData
from reaction.metrics import keys
from reaction.metrics.costs import count_parameters

log = logging.getLogger(__name__)


def afe_config(node: Mapping[str, Any] | None) -> AFEConfig:
    """``AFEConfig`` from the ``afe`` config node (absent: AFE off); unknown keys are refused."""
    return dataclass_from_node(AFEConfig, node, "afe")


def fit_for_data(
    cfg: AFEConfig, data: PreprocessedData, embedding_dim: int | None
) -> AFEPlan | None:
    """The plan of a run, fitted on ``data``'s training split only (None when AFE is off)."""
    if not cfg.enabled:
        return None
    feature_map = data.feature_map
    vocab_files = {f: data.vocab_path(f) for f in feature_map.field_names}
    plan = fit_plan(data.split_path("train"), feature_map, cfg, embedding_dim, vocab_files)
    log.info(
        "AFE (%s) kept %d of %d fields in %.1f s",
        cfg.variant,
        len(plan.fields),
        feature_map.num_fields,
        plan.fitted_on["seconds"],
    )
    return plan


def afe_costs(plan: AFEPlan, factory: NetFactory, data: PreprocessedData, net: nn.Module) -> dict:
    """Fields and embedding parameters of the same model without the plan and with it."""
    full = factory(feature_map=data.feature_map)
    before = count_parameters(full)[keys.PARAMS_EMBEDDING]
    after = count_parameters(net)[keys.PARAMS_EMBEDDING]
    return {
        keys.AFE_FIELDS_BEFORE: float(data.feature_map.num_fields),
        keys.AFE_FIELDS_AFTER: float(len(plan.fields)),
        keys.AFE_EMBEDDING_PARAMS_BEFORE: float(before),
        keys.AFE_EMBEDDING_PARAMS_AFTER: float(after),
        keys.AFE_EMBEDDING_CUT: before / after if after else float("inf"),
        keys.AFE_FIT_SECONDS: float(plan.fitted_on["seconds"]),
    }


def afe_problems(cfg: DictConfig) -> list[str]:
    """The ``afe`` group at start-up: keys that have no effect, and extensions the model cannot
    take (mixed embedding sizes and the subspace need a model with flat embeddings)."""
    afe = afe_config(cfg.get("afe"))
    problems = [
        f"afe.{k}={getattr(afe, k)!r}: has no effect ({why})"
        for k, why in afe.unread_keys().items()
    ]
    model = model_class(cfg)
    if afe.flat_embeddings and model is not None and not takes_flat_embeddings(model):
        policy = f"afe.dim_policy={afe.dim_policy!r}" if afe.dim_policy != "uniform" else ""
        subspace = f"afe.subspace_dim={afe.subspace_dim}" if afe.subspace_dim else ""
        problems.append(
            f"{' '.join(filter(None, (policy, subspace)))}: needs a model with flat embeddings "
            f"(model=dnn, reaction), got model={cfg.model.name} ({model.__name__} embeds each "
            "field at one size; allowed here: afe.dim_policy=uniform afe.subspace_dim=null)"
        )
    return problems
