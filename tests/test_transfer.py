"""Export and import: SQLite -> PostgreSQL -> SQLite reproduces every row, and a file that is
not an export, or a database that is not empty, changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli, search
from bot.records import Paper
from storage import db, feedback, queries, subscriptions, transfer
from tests.conftest import new_postgres_database
from tests.postgres import Cluster

NOW = datetime(2026, 11, 27, 7, 30, tzinfo=UTC)


def _fill(sessions: sessionmaker[Session]) -> None:
    papers = [
        Paper(
            "Graph Neural Networks at Scale", "We train GNNs (graph neural networks).", "2611.00001"
        ),
        Paper("Pruning Without Retraining", "Experts are pruned. Ünïcödé, emoji 🚀, <b>tags</b>."),
        Paper("Diffusion for Proteins", "Protein folding by diffusion.", "2611.00003", upvotes=42),
    ]
    with sessions.begin() as session:
        queries.store_papers(session, papers, NOW)
        queries.record_source_failure(session, "https://example.org/feed", "HTTP 503", NOW)
        queries.schedule_source(session, "https://example.org/daily", True)
        alice = subscriptions.enroll(session, 1001, "private", NOW)
        subscriptions.add_keywords(alice, ["GNN", "-survey", "pruning"])
        subscriptions.set_schedule(alice, timezone="Europe/Berlin", at=time(7, 15))
        alice.next_digest_at = datetime(2026, 11, 28, 6, 15, tzinfo=UTC)
        alice.last_digest_on = NOW.date()
        group = subscriptions.enroll(session, -100777, "supergroup", NOW, title="Lab", thread_id=5)
        subscriptions.add_keywords(group, ["diffusion"])
        group.paused = True
        group.notify_empty = True
        ids = [row_id for row_id, _ in subscriptions.newest_papers(session, 10)]
        subscriptions.record_deliveries(session, alice.id, ids[:2], NOW)
        subscriptions.record_deliveries(session, group.id, ids[2:], NOW)
        feedback.rate(session, alice.id, ids[0], 1, NOW)
        feedback.rate(session, group.id, ids[1], -1, NOW)
        feedback.save(session, alice.id, ids[2], True, NOW)
        unmatched = feedback.LibraryRecord(
            "A Paper Not Stored", "a paper not stored", "", None, None
        )
        matched = feedback.LibraryRecord(
            "Diffusion for Proteins", "diffusion for proteins", "", "2611.00003", ids[0]
        )
        feedback.add_library(session, alice.id, [unmatched, matched], NOW)


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for name, table in transfer.TABLES.items()
        }


def _empty(url: str) -> Engine:
    engine = db.make_engine(url)
    db.upgrade(engine)
    return engine


def _run(*args: str, url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", url)
    return cli.main(list(args))


def test_sqlite_to_postgresql_to_sqlite_keeps_every_row(
    tmp_path: Path, postgres: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_url = f"sqlite:///{tmp_path / 'first.db'}"
    first = _empty(first_url)
    _fill(db.make_sessions(first))
    pg_url = new_postgres_database(postgres, None)
    last_url = f"sqlite:///{tmp_path / 'last.db'}"
    assert _run("export", str(tmp_path / "one.jsonl"), url=first_url, monkeypatch=monkeypatch) == 0
    assert _run("import", str(tmp_path / "one.jsonl"), url=pg_url, monkeypatch=monkeypatch) == 0
    assert _run("export", str(tmp_path / "two.jsonl"), url=pg_url, monkeypatch=monkeypatch) == 0
    assert _run("import", str(tmp_path / "two.jsonl"), url=last_url, monkeypatch=monkeypatch) == 0

    original = _rows(first)
    assert all(original.values()), "every table should have rows to compare"
    postgresql = db.make_engine(pg_url)
    assert _rows(postgresql) == original
    assert _rows(db.make_engine(last_url)) == original
    # Both files hold the same rows (only the header's time differs).
    one = (tmp_path / "one.jsonl").read_text().splitlines()[1:]
    assert one == (tmp_path / "two.jsonl").read_text().splitlines()[1:]
    # The imported papers are found: the search indexes were made anew from them.
    for url in (pg_url, last_url):
        with db.make_sessions(db.make_engine(url))() as session:
            found = search.search(session, "pruned experts").results
            assert [result.title for result in found] == ["Pruning Without Retraining"]
    # New rows on PostgreSQL get fresh ids after the imported ones, and search still works.
    with db.make_sessions(postgresql).begin() as session:
        row = subscriptions.enroll(session, 1003, "private", NOW)
        assert row.id == max(int(str(r[0])) for r in original["subscribers"]) + 1
        counts = queries.store_papers(session, [Paper("A New Paper", "Fresh.")], NOW)
        assert counts.new == 1


def test_import_refuses_a_database_that_is_not_empty(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _fill(sessions)
    with sessions() as session:
        lines = list(transfer.export_lines(session, "head", NOW))
    with sessions.begin() as session, pytest.raises(transfer.TransferError, match="not empty"):
        transfer.import_lines(session, lines)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "the file is empty"),
        ('{"hello": 1}\n', "not a paperboy export"),
        (f'{{"format": "{transfer.FORMAT}"}}\n{{oops\n', "line 2 is not JSON"),
        # Nested past Python's recursion limit: refused like any other line that is no row.
        (f'{{"format": "{transfer.FORMAT}"}}\n' + "[" * 200_000 + "\n", "line 2 is not JSON"),
        (
            f'{{"format": "{transfer.FORMAT}"}}\n{{"table": "users", "row": {{}}}}\n',
            "unknown table",
        ),
        (
            f'{{"format": "{transfer.FORMAT}"}}\n{{"table": "papers", "row": {{"colour": 1}}}}\n',
            "papers has no column colour",
        ),
    ],
)
def test_a_bad_file_imports_nothing(
    engine: Engine, sessions: sessionmaker[Session], content: str, reason: str
) -> None:
    with pytest.raises(transfer.TransferError, match=reason), sessions.begin() as session:
        transfer.import_lines(session, content.splitlines())
    assert all(not rows for rows in _rows(engine).values())


def test_an_export_beside_a_running_bot_is_one_consistent_moment(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _fill(sessions)
    with transfer.snapshot(engine) as session:
        lines = transfer.export_lines(session, "head", NOW)
        started = [next(lines), next(lines)]  # the header, and the first paper
        # Meanwhile the bot stores a paper and delivers it.
        with sessions.begin() as writer:
            queries.store_papers(writer, [Paper("Arrived Mid-Export", "New.")], NOW)
            row = subscriptions.find(writer, 1001)
            assert row is not None
            [(new_id, _)] = subscriptions.newest_papers(writer, 1)
            subscriptions.record_deliveries(writer, row.id, [new_id], NOW)
        exported = started + list(lines)
    target = _empty(f"sqlite:///{tmp_path / 'restored.db'}")
    with db.make_sessions(target).begin() as session:
        counts = transfer.import_lines(session, exported)
    assert counts["papers"] == 3
    assert counts["deliveries"] == 3
    assert "Arrived Mid-Export" not in "".join(exported)
    assert "claimed_by" not in "".join(exported)


def test_columns_never_exported_are_ignored_in_an_edited_file() -> None:
    """A library entry's vector (remade from its text) and a delivery's claim are never
    exported; a file that has them anyway is read without them, not failed on them."""
    raw = {"id": 1, "title": "T", "vector": "AAAA", "claimed_by": "x"}
    row = transfer._row(transfer.TABLES["library_entries"], raw, 3)
    assert row == {"id": 1, "title": "T"}
