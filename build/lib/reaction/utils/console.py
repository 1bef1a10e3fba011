"""A rich console that prints whole tables even when piped (CI logs, ``make demo | tee``)."""

import warnings

from rich.console import Console

MIN_WIDTH = 150


def wide_console() -> Console:
    console = Console()
    console.width = max(console.width, MIN_WIDTH)
    return console


def quiet_known_warnings() -> None:
    """Silence third-party warnings a user can do nothing about (one per run otherwise):
    Lightning's pytree helper calling a torch API that torch deprecated."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")
