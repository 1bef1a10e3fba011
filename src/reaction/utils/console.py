"""A rich console that prints whole tables even when piped (CI logs, ``make demo | tee``)."""

from rich.console import Console

MIN_WIDTH = 150


def wide_console() -> Console:
    console = Console()
    console.width = max(console.width, MIN_WIDTH)
    return console
