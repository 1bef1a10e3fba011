"""REACTION: parameter-efficient CTR prediction (AFE + DTF) on Lightning + Hydra."""

__version__ = "0.1.0"
