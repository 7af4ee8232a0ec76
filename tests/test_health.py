"""`paperboy health`: healthy only when the database answers, the bot beats and ingest runs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import cli
from bot.config import Settings
from bot.health import problems
from storage import db, schedule

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SETTINGS = Settings(sources=["https://example.org/papers.json"], ingest_interval=3600)


def _state(sessions: sessionmaker[Session], key: str, value: datetime) -> None:
    with sessions.begin() as session:
        schedule.set_state(session, key, value.isoformat(), value)


@pytest.mark.backends("sqlite")  # no database logic of its own
def test_a_running_bot_is_healthy(engine: Engine, sessions: sessionmaker[Session]) -> None:
    _state(sessions, schedule.HEARTBEAT, NOW - timedelta(seconds=20))
    _state(sessions, schedule.LAST_INGEST, NOW - timedelta(minutes=50))
    wrong, fine = problems(engine, SETTINGS, NOW)
    assert wrong == []
    assert fine == [
        f"database answers (schema {db.head_revision()})",
        "bot alive (heartbeat 20 s ago)",
        "last ingest 50 min ago",
    ]


def test_silence_stale_ingest_and_flood_waits_are_problems(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    assert problems(engine, SETTINGS, NOW)[0] == ["paperboy run has not started yet (no heartbeat)"]
    _state(sessions, schedule.HEARTBEAT, NOW - timedelta(minutes=10))
    _state(sessions, schedule.LAST_INGEST, NOW - timedelta(hours=5))
    _state(sessions, schedule.FLOOD_WAIT_UNTIL, NOW + timedelta(hours=2))
    assert problems(engine, SETTINGS, NOW)[0] == [
        "no heartbeat from paperboy run for 600 s",
        "the last scheduled ingest was 5.0 h ago",
        "Telegram's flood wait stops all digests until 2026-11-27T14:00 UTC",
    ]


def test_a_database_that_does_not_answer_is_a_problem() -> None:
    engine = db.make_engine("postgresql://nobody:secret@127.0.0.1:1/none")
    [problem] = problems(engine, SETTINGS, NOW)[0]
    assert problem.startswith("the database does not answer")
    assert "secret" not in problem


def test_the_command_exits_1_with_the_reason_and_leaves_the_schema_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    sqlite3.connect(tmp_path / "new.db").close()  # a file, with no schema yet
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", url)
    assert cli.main(["health"]) == 1
    out = capsys.readouterr().out
    assert "problem: the database schema is at None" in out
    assert out.strip().endswith("unhealthy")
    assert db.current_revision(db.make_engine(url)) is None


def test_the_command_never_creates_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A health check in the wrong folder, or before the first start, says there is no
    database rather than making an empty one (and its folder) that hides the real one."""
    missing = tmp_path / "data" / "paperboy.db"
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{missing}")
    assert cli.main(["health"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"paperboy: no database at {missing} (PAPERBOY_DATABASE_URL): `paperboy ingest "
        "SOURCE` makes one and fills it"
    ]
    assert not missing.parent.exists()
