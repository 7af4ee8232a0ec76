"""What the command line does to the store, as plain functions over an engine: the CLI
reaches storage/ only through these (and bot/service.py), never through SQL of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.records import Paper, SearchUnavailable
from storage import db, queries, schedule, subscriptions, transfer
from storage.counts import Stats
from storage.transfer import TransferError

if TYPE_CHECKING:
    from bot.preview import Library
    from bot.profile import LibraryReport
    from bot.recommendations import Recommendation

# bot.profile and bot.recommendations (numpy, the library parsers) are imported by the
# functions that use them: `paperboy stats` and the like start without them.

__all__ = ["SearchUnavailable", "Stats", "TransferError"]

# An export line longer than this is not one of ours (and would be read into memory whole).
MAX_IMPORT_LINE = 50_000_000


class NoDatabase(Exception):
    """A command that only reads found no database where the settings point."""


def open_database(url: str, *, create: bool = True) -> Engine:
    """An engine for the configured database. A command that only reads passes create=False:
    a SQLite file that is not there yet is an error, not a new empty database."""
    path = db.sqlite_file(url)
    if not create and path is not None and not path.is_file():
        raise NoDatabase(
            f"no database at {path} (PAPERBOY_DATABASE_URL): `paperboy ingest SOURCE` "
            "makes one and fills it"
        )
    try:
        return db.make_engine(url)
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise NoDatabase(f"cannot make a database at {path}: {exc.strerror}") from None


def upgrade(engine: Engine) -> None:
    db.upgrade(engine)


def revision(engine: Engine) -> str | None:
    return db.current_revision(engine)


def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.make_sessions(engine)


def describe(engine: Engine) -> str:
    """The database, for people: a SQLite file's full path, or the URL without password."""
    return db.describe(engine)


def stats(engine: Engine) -> Stats:
    with db.make_sessions(engine)() as session:
        return queries.stats(session)


@contextmanager
def library(engine: Engine) -> Iterator[Library]:
    """The stored papers for matching keywords against, read a batch at a time."""
    from bot.preview import Library

    with db.make_sessions(engine)() as session:
        yield Library(session)


def audience(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """Subscribed chats, and those of them that take digests now."""
    with sessions() as session:
        return queries.stats(session).subscribers, schedule.receiving_count(session)


def export(engine: Engine, target: Path, now: datetime) -> int:
    """Write the whole store to `target` as JSON lines; returns the rows written. A
    half-written export never takes the name of a finished one: it is written beside it and
    renamed, and removed if anything fails. A pipe or a device (/dev/stdout) is written to
    as it is: renaming over it would replace it."""
    if target.is_dir():
        raise IsADirectoryError("it is a directory: name a file to write")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"there is no folder {target.parent}")
    if target.exists() and not target.is_file():
        with target.open("w", encoding="utf-8") as out:
            return _export_to(out, engine, now)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            rows = _export_to(out, engine, now)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return rows


def _export_to(out: TextIO, engine: Engine, now: datetime) -> int:
    rows = 0
    with transfer.snapshot(engine) as session:
        for line in transfer.export_lines(session, db.current_revision(engine), now):
            out.write(line + "\n")
            rows += 1
    return rows - 1  # the first line is the header


def _lines(lines: TextIO) -> Iterator[str]:
    while line := lines.readline(MAX_IMPORT_LINE):
        if len(line) >= MAX_IMPORT_LINE and not line.endswith("\n"):
            raise TransferError("a line is far too long for a paperboy export")
        yield line


def import_file(engine: Engine, path: Path) -> dict[str, int]:
    """Load an export into this (empty) database, all or nothing; rows per table."""
    with path.open(encoding="utf-8") as lines, db.make_sessions(engine).begin() as session:
        return transfer.import_lines(session, _lines(lines))


def recommend(
    engine: Engine, chat_id: int, now: datetime, limit: int
) -> list[Recommendation] | None:
    """A chat's best unsent papers; None for a chat the bot does not know."""
    from bot import recommendations

    with db.make_sessions(engine)() as session:
        row = subscriptions.find(session, chat_id)
        if row is None:
            return None
        found = recommendations.pool(session)
        best = recommendations.recommend(session, row.id, found, now, limit)
        session.commit()  # the fitted profile is kept for the next time
    return best


def saved(engine: Engine, chat_id: int) -> list[Paper] | None:
    """A chat's saved papers, newest first; None for a chat the bot does not know."""
    from bot import profile

    with db.make_sessions(engine)() as session:
        if subscriptions.find(session, chat_id) is None:
            return None
        _, papers = profile.saved(session, chat_id)
    return [paper for _, paper in papers]


def import_library(
    engine: Engine,
    chat_id: int,
    data: bytes,
    filename: str,
    default_schedule: str,
    now: datetime,
) -> LibraryReport:
    """Read a BibTeX or RIS file into a chat's profile (a chat new to the bot is enrolled,
    with the default schedule). Raises LibraryError for a file that cannot be read."""
    from bot import profile

    chat_type = "private" if chat_id > 0 else "group"
    sessions = db.make_sessions(engine)
    subscriptions.use_default_schedule(sessions, default_schedule)  # a new chat's
    with sessions() as session:
        report = profile.import_library(session, chat_id, chat_type, data, filename, now)
        session.commit()
    return report
