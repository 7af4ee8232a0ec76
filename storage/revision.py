"""The newest schema revision, read from the migrations' file names: without SQLAlchemy or
Alembic, so that a command which only reads can tell at once whether the schema is current."""

from __future__ import annotations

from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")


def newest_revision() -> str:
    """The newest revision (NNNN_what.py, numbered in order; tests/test_migrations.py checks
    that Alembic agrees) without loading the migrations."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("*_*.py"))
