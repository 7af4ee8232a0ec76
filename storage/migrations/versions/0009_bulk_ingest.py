"""bulk ingest: SQLite indexes new papers per batch, not by a trigger per row

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Migration 0006's insert trigger indexed each new paper in three full-text indexes and kept
the index of the newest papers with a few lookups per row; storage/search_index.py now does
the same with one statement per index for a whole batch of papers, which more than halves
the time the indexes take on a bulk load. The update and delete triggers stay: they re-index
one paper at a time, which is rare. PostgreSQL keeps its trigger (a tsvector per row).
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER papers_fts_insert")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    path = Path(__file__).with_name("0006_analysed_search.py")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (trigger,) = [s for s in module.SQLITE_DDL if s.startswith("CREATE TRIGGER papers_fts_insert")]
    op.execute(sa.text(trigger))
