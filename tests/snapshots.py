"""Whole-database snapshots, to prove that a failed operation changed nothing."""

from __future__ import annotations

from sqlalchemy import Engine, select

from storage.models import Base

Snapshot = dict[str, list[tuple[object, ...]]]


def snapshot(engine: Engine, skip: frozenset[str] = frozenset()) -> Snapshot:
    """Every row of every table but those in `skip`, in a stable order."""
    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
            if table.name not in skip
        }
