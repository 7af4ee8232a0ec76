"""The layers keep to their places: storage/ alone holds SQL, render.py alone makes HTML
(the service functions return data), and the command line and the chat handlers reach
storage only through service functions (bot/operations.py, bot/figures.py, bot/service.py,
bot/profile.py)."""

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


def _storage_imports(paths: list[Path]) -> list[str]:
    return [
        f"{path.name}: {module}"
        for path in paths
        for module, name in _imports(path)
        if module == "storage" or module.startswith("storage.") or name == "storage"
    ]


def test_the_command_line_reaches_storage_through_service_functions() -> None:
    assert _storage_imports(sorted((REPO / "bot").glob("cli*.py"))) == []


# What receives Telegram's updates: the command and button handlers, inline queries, and
# the application (its error handler).
HANDLERS = sorted(
    [*(REPO / "bot").glob("*handlers.py"), REPO / "bot" / "inline.py", REPO / "bot" / "app.py"]
)


def test_the_handlers_reach_storage_through_service_functions() -> None:
    assert len(HANDLERS) >= 5  # handlers, feedback and library handlers, inline, app
    assert _storage_imports(HANDLERS) == []


def test_service_functions_return_data_not_html() -> None:
    """bot/service.py knows nothing of messages: it neither imports render nor escapes."""
    found = _imports(REPO / "bot" / "service.py")
    assert [(m, n) for m, n in found if m == "bot.render" or n == "render"] == []
    assert ("html", "escape") not in found
