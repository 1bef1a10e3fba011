"""Location of the Hydra configs shared by every entry point.

The configs live at the repository root (``conf/``) so users edit them in place; the package is
installed in editable mode (``make install``), so the path is found from this file.
"""

from pathlib import Path

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
