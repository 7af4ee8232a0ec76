"""Alembic migrations agree with the models and keep data across upgrades."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from storage import db, queries, subscriptions
from storage.records import Paper


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    db.upgrade(engine)
    # Raises if autogenerate would find anything to add: the schema has no unmigrated change.
    command.check(db.alembic_config(engine))
    assert {"papers", "sources", "subscribers", "keywords", "deliveries"} <= set(
        inspect(engine).get_table_names()
    )


def test_upgrade_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'data.db'}")
    db.upgrade(engine)
    with db.make_sessions(engine).begin() as session:
        queries.store_papers(session, [Paper(title="Kept Across Upgrades")], datetime.now(UTC))
    db.upgrade(engine)
    head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    assert db.current_revision(engine) == head
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT title FROM papers")) == "Kept Across Upgrades"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}")
    with engine.connect() as connection:
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert connection.scalar(text("PRAGMA foreign_keys")) == 1


def test_rebuilding_a_table_keeps_the_rows_that_point_at_it(tmp_path: Path) -> None:
    """SQLite migrations rebuild tables (drop and copy); with foreign keys enforced the drop
    would cascade into keywords and deliveries. Down to 0002 and up again rebuilds
    subscribers: its keywords must survive."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'keep.db'}")
    db.upgrade(engine)
    now = datetime.now(UTC)
    with db.make_sessions(engine).begin() as session:
        row = subscriptions.enroll(session, 42, "private", now)
        subscriptions.add_keywords(row, ["GNN", "pruning"])
    config = db.alembic_config(engine)
    command.downgrade(config, "0002")
    db.upgrade(engine)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM keywords")) == 2
        assert connection.scalar(text("PRAGMA foreign_keys")) == 1
