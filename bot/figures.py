"""The store's figures for `paperboy stats` without SQLAlchemy: on a SQLite file written
plainly as sqlite:///PATH whose schema is current, read with the standard library's sqlite3.
Importing SQLAlchemy alone costs more CPU than the command may take (bench/startup.py); any
other database goes through bot/operations.py as usual."""

from __future__ import annotations

from pathlib import Path

from storage.counts import Stats, sqlite_stats
from storage.revision import newest_revision

__all__ = ["Stats", "plain_sqlite_file", "quick_stats"]

_PLAIN_SQLITE = "sqlite:///"


def plain_sqlite_file(url: str) -> Path | None:
    """The file of a URL written plainly as sqlite:///PATH (no driver, no options, nothing
    escaped); None for any other URL, which SQLAlchemy reads instead."""
    path = url.removeprefix(_PLAIN_SQLITE)
    if path == url or not path or path == ":memory:" or any(c in path for c in "?%#"):
        return None
    return Path(path).expanduser().absolute()


def quick_stats(url: str) -> tuple[Stats, Path] | None:
    """The figures and the file they were read from; None when this way cannot tell."""
    path = plain_sqlite_file(url)
    if path is None or not path.is_file():
        return None
    figures = sqlite_stats(path, newest_revision())
    return None if figures is None else (figures, path)
