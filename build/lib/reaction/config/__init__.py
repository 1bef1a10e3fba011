"""The ground floor: config nodes -> validated dataclasses, and the shape of the Hydra tree.

Every domain package owns its config dataclass and its checks (one place per rule) and builds
on this package; this package imports no domain package.
"""

from reaction.config.nodes import ConfigError, dataclass_from_node, did_you_mean

__all__ = ["ConfigError", "dataclass_from_node", "did_you_mean"]
