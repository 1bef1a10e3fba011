"""Location of the Hydra configs shared by every entry point.

The configs ship inside the package (``reaction/conf``), so an installed wheel finds them as well
as an editable checkout; users add their own groups through Hydra's search path
(``hydra.searchpath=[file:///my/conf]``).
"""

from pathlib import Path

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
