"""Alembic migrations agree with the models and keep data across upgrades, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from bot import ranker
from bot.records import Paper
from storage import db, queries, revision, subscriptions

# What a database of the first release held: papers, a source, a subscriber with keywords
# and a delivery, written as that release's schema had them.
FIRST_RELEASE_ROWS = (
    "INSERT INTO papers (arxiv_id, title, title_key, abstract, authors, categories, "
    "keywords, first_seen_at, updated_at) VALUES ('2401.00001', 'Graph Neural Networks "
    "at Scale', 'graph neural networks at scale', 'We train GNNs on graphs.', '[]', '[]', "
    "'[]', '2026-11-20 08:00:00+00', '2026-11-20 08:00:00+00')",
    "INSERT INTO sources (location, papers_parsed, papers_new, papers_known, "
    "papers_enriched, consecutive_failures) VALUES ('https://example.org/p', 1, 1, 0, 0, 0)",
    "INSERT INTO subscribers (chat_id, chat_type, timezone, delivery_time, active, "
    "created_at) VALUES (1001, 'private', 'Europe/Berlin', '07:30:00', true, "
    "'2026-11-20 08:00:00+00')",
    "INSERT INTO keywords (subscriber_id, keyword) SELECT id, 'GNN' FROM subscribers",
    "INSERT INTO keywords (subscriber_id, keyword) SELECT id, 'pruning' FROM subscribers",
    "INSERT INTO deliveries (subscriber_id, paper_id, delivered_at) SELECT s.id, p.id, "
    "'2026-11-21 06:30:00+00' FROM subscribers s, papers p",
)


def test_models_and_migrations_agree(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    db.upgrade(engine)
    # Raises if autogenerate would find anything to add: the schema has no unmigrated change.
    command.check(db.alembic_config(engine))
    assert {"papers", "sources", "subscribers", "keywords", "deliveries"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_upgrading_from_the_first_revision_keeps_every_subscriber(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    command.upgrade(db.alembic_config(engine), "0001")
    with engine.begin() as connection:
        for statement in FIRST_RELEASE_ROWS:
            connection.execute(text(statement))
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    sessions = db.make_sessions(engine)
    with sessions() as session:
        row = subscriptions.find(session, 1001)
        assert row is not None
        assert subscriptions.keywords(row) == ["GNN", "pruning"]
        assert (row.timezone, f"{row.delivery_time:%H:%M}", row.active) == (
            "Europe/Berlin",
            "07:30",
            True,
        )
        # New settings start at their defaults; the schedule is computed on the first tick.
        assert (row.paused, row.notify_empty, row.next_digest_at) == (False, False, None)
        assert row.schedule == "daily"  # as every digest was before schedules existed
        assert subscriptions.delivered_count(session, row.id) == 1
        assert [p.title for p in queries.all_papers(session)] == ["Graph Neural Networks at Scale"]
    # The papers stored before the search migration are searchable, and ids go on.
    with sessions.begin() as session:
        counts = queries.store_papers(session, [Paper("Pruning at Scale", "")], datetime.now(UTC))
        assert counts.new == 1
    engine.dispose()


def test_upgrade_is_idempotent(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    db.upgrade(engine)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_the_newest_revision_is_read_from_the_file_names() -> None:
    """upgrade() finds the newest revision without Alembic (too slow to load for a command
    whose schema is up to date): the file names must say what Alembic would."""
    assert revision.newest_revision() == db.head_revision()


def test_an_up_to_date_schema_is_not_handed_to_alembic(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.make_engine(empty_db_url)
    db.upgrade(engine)
    monkeypatch.setattr(command, "upgrade", lambda *args: pytest.fail("Alembic was run"))
    db.upgrade(engine)
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}")
    with engine.connect() as connection:
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert connection.scalar(text("PRAGMA foreign_keys")) == 1


def test_rebuilding_a_table_keeps_the_rows_that_point_at_it(empty_db_url: str) -> None:
    """SQLite migrations rebuild tables (drop and copy); with foreign keys enforced the drop
    would cascade into keywords and deliveries. Down to 0002 and up again rebuilds
    subscribers: its keywords must survive (on PostgreSQL columns are simply dropped)."""
    engine = db.make_engine(empty_db_url)
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
    engine.dispose()


def test_schedules_downgrade_and_upgrade_again(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    db.upgrade(engine)
    with db.make_sessions(engine).begin() as session:
        row = subscriptions.enroll(session, 42, "private", datetime.now(UTC))
        row.schedule = "weekly friday"
    config = db.alembic_config(engine)
    command.downgrade(config, "0007")
    assert "schedule" not in {c["name"] for c in inspect(engine).get_columns("subscribers")}
    db.upgrade(engine)
    with db.make_sessions(engine)() as session:
        again = subscriptions.find(session, 42)
        assert again is not None
        assert again.schedule == "daily"  # the choice went with the column; the default is back
    engine.dispose()


def test_packed_rankers_go_on_a_downgrade_to_0012(empty_db_url: str) -> None:
    """The code before revision 0013 cannot read a ranker stored packed: a downgrade drops
    those (derived data, fitted again) and keeps the rest."""
    engine = db.make_engine(empty_db_url)
    db.upgrade(engine)
    with db.make_sessions(engine).begin() as session:
        for chat in (1, 2):
            subscriptions.enroll(session, chat, "private", datetime.now(UTC))
    packed = ranker.Model({"graph": 0.5}, 0.1, [], [1]).to_json()
    plain = json.dumps({"weights": {"graph": 0.5}, "bias": 0.1, "anchors": [], "known": [1]})
    with engine.begin() as connection:
        for subscriber, model in ((1, packed), (2, plain)):
            connection.execute(
                text("INSERT INTO profiles (subscriber_id, model, fitted_at) VALUES (:s, :m, :t)"),
                {"s": subscriber, "m": model, "t": datetime.now(UTC)},
            )
    command.downgrade(db.alembic_config(engine), "0012")
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT subscriber_id, model FROM profiles")).all()
    assert [tuple(row) for row in kept] == [(2, plain)]
    db.upgrade(engine)
    engine.dispose()
