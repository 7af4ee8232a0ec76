"""The layers keep to their places: storage/ alone holds SQL, and the command line reaches
storage only through service functions (bot/operations.py, bot/service.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

# What writes SQL with SQLAlchemy: raw text, and the statement builders.
SQL_NAMES = frozenset({"text", "select", "insert", "update", "delete", "func", "literal_column"})


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for each `from module import name`, and (module, "") for `import x`."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
    return found


def test_only_storage_holds_sql() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {module}.{name}"
        for path in sorted((REPO / "bot").rglob("*.py"))
        for module, name in _imports(path)
        if module.startswith("sqlalchemy") and name in SQL_NAMES
    ]
    assert offenders == []


def test_the_command_line_reaches_storage_through_service_functions() -> None:
    offenders = [
        f"{path.name}: {module}"
        for path in sorted((REPO / "bot").glob("cli*.py"))
        for module, name in _imports(path)
        if module == "storage" or module.startswith("storage.") or name == "storage"
    ]
    assert offenders == []
