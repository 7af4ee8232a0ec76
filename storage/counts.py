"""How much the store holds: one count per figure, in SQL that both databases and both
ways in speak (a SQLAlchemy session, or sqlite3 itself for `paperboy stats`).

Importing SQLAlchemy alone costs more CPU than `paperboy stats` may take, so on a SQLite file
whose schema is current the command reads these counts through the standard library.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class Stats:
    papers: int
    papers_with_arxiv_id: int
    sources: int
    failing_sources: int
    subscribers: int
    active_subscribers: int
    keywords: int
    deliveries: int


_COUNTS = {
    "papers": "SELECT count(*) FROM papers",
    "papers_with_arxiv_id": "SELECT count(*) FROM papers WHERE arxiv_id IS NOT NULL",
    "sources": "SELECT count(*) FROM sources",
    "failing_sources": "SELECT count(*) FROM sources WHERE last_error IS NOT NULL",
    "subscribers": "SELECT count(*) FROM subscribers",
    "active_subscribers": "SELECT count(*) FROM subscribers WHERE active",
    "keywords": "SELECT count(*) FROM keywords",
    "deliveries": "SELECT count(*) FROM deliveries",
}


def stats(count: Callable[[str], int]) -> Stats:
    """The figures, each read by `count` (SQL in, its one number out)."""
    return Stats(**{name: count(sql) for name, sql in _COUNTS.items()})


def sqlite_stats(path: Path, revision: str) -> Stats | None:
    """The figures of a SQLite file, read only; None when its schema is not at `revision`
    or it cannot be read here (the caller then takes the way that upgrades and explains)."""
    try:
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return None
    try:
        stored = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if stored is None or stored[0] != revision:
            return None
        return stats(lambda sql: int(connection.execute(sql).fetchone()[0]))
    except sqlite3.Error:
        return None
    finally:
        connection.close()
