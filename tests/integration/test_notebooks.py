"""Every notebook in ``notebooks/`` runs on tiny data, and every notebook is stored stripped.

The notebooks end with ``assert``s on what they show (e.g. the planted copies are recovered), so
executing them is a test. They run in a kernel of *this* interpreter (the venv's python), whatever
kernelspecs the machine has installed elsewhere, with matplotlib's non-interactive backend.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TINY_ROWS = 5_000  # REACTION_NOTEBOOK_ROWS: each notebook generates at most this many rows
CELL_TIMEOUT_S = 180


def _kernel_manager(kernel_dir: Path) -> KernelManager:
    """A ``python3`` kernel that runs ``sys.executable``, not whatever ``python3`` resolves to."""
    write_kernel_spec(kernel_dir / "python3")
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    assert manager.kernel_spec.argv[0] == sys.executable, manager.kernel_spec.argv
    return manager


@pytest.mark.timeout(2 * CELL_TIMEOUT_S)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_tiny_data(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits this environment
    monkeypatch.setenv("REACTION_NOTEBOOK_ROWS", str(TINY_ROWS))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.delenv("REACTION_RESULTS_DIR", raising=False)  # the notebook trains its own runs
    # The notebooks' temporary folders land here, even when the kernel exits without cleaning up.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        km=_kernel_manager(tmp_path / "kernels"),
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError with the failing cell and its traceback


def _repo_notebooks() -> list[Path]:
    """Tracked and untracked-but-not-ignored notebooks anywhere in the repository."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted({ROOT / name for name in listed if (ROOT / name).exists()})


def test_every_notebook_is_stored_valid_and_stripped() -> None:
    notebooks = _repo_notebooks()
    assert set(NOTEBOOKS) <= set(notebooks), "git does not list notebooks/*.ipynb"
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        dirty = [
            i
            for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
        ]
        assert not dirty, f"{path.relative_to(ROOT)}: outputs in cells {dirty}; strip them"
