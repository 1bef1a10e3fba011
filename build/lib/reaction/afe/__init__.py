"""AFE -- Adaptive Feature Extraction: MI-guided field selection with a saved plan (REACTION.md).

``selector`` (the paper's greedy ``J = PI + BI + CI``), ``extensions`` (our variants), ``plan``
(the JSON artefact), ``net`` (applying a plan in front of any model), ``fit`` (glue for a run).
"""

from reaction.afe.config import AFEConfig
from reaction.afe.net import AFENet, build_net
from reaction.afe.plan import PLAN_FILE, AFEPlan, fit_plan

__all__ = ["PLAN_FILE", "AFEConfig", "AFENet", "AFEPlan", "build_net", "fit_plan"]
