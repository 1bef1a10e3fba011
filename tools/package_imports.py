"""Which package of ``reaction`` imports which: ``python tools/package_imports.py``.

One line per package, from an AST scan of ``src/reaction`` (imports inside functions count too),
so a change that makes a helper package import up into the domain shows at once.
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "reaction"


def package_imports(root: Path = ROOT) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = collections.defaultdict(set)
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        package = rel.parts[0] if len(rel.parts) > 1 else "(top)"
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "reaction" and len(parts) > 1 and parts[1] != package:
                    edges[package].add(parts[1])
    return edges


if __name__ == "__main__":
    for package, targets in sorted(package_imports().items()):
        print(f"{package:10s} -> {', '.join(sorted(targets))}")  # noqa: T201 - the tool's output
