"""A rich console that prints whole tables even when piped (CI logs, ``make demo | tee``)."""

import logging
import warnings

from rich.console import Console

MIN_WIDTH = 150


def wide_console() -> Console:
    console = Console()
    console.width = max(console.width, MIN_WIDTH)
    return console


def quiet_known_warnings() -> None:
    """Silence third-party messages a user can do nothing about (each printed once per run):
    Lightning's pytree helper calling an API torch deprecated, its note that ``test`` uses the
    first ``ModelCheckpoint`` (ours by design: the best-val-AUC one), and its logger tip."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")
    warnings.filterwarnings("ignore", message=r".*configured with multiple `ModelCheckpoint`")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_drop_tips)


def _drop_tips(record: logging.LogRecord) -> bool:
    return "Tip:" not in str(record.msg)
