"""W&B must never need the network: offline unless the user has configured an API key."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def ensure_wandb_mode() -> str:
    """Set ``WANDB_MODE`` when the user has not: ``online`` with an API key, else ``offline``.

    An explicit ``WANDB_MODE`` (``online``, ``offline``, ``disabled``) always wins. ``wandb login``
    stores its key in ``~/.netrc``; we only look at the environment, so a user who relies on netrc
    sets ``WANDB_MODE=online`` once.
    """
    if "WANDB_MODE" not in os.environ:
        os.environ["WANDB_MODE"] = "online" if os.environ.get("WANDB_API_KEY") else "offline"
        log.info("W&B mode: %s (set WANDB_MODE to override)", os.environ["WANDB_MODE"])
    return os.environ["WANDB_MODE"]
