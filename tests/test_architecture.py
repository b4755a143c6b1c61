"""The core is a library: nothing outside proxygen/cli may import the CLI."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "proxygen"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_cli():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue
        if any(name == "proxygen.cli" or name.startswith("proxygen.cli.") for name in _imports(path)):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []
    assert len(list(PACKAGE.rglob("*.py"))) > 3  # the scan saw the package
