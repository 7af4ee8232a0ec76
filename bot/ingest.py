"""Ingest: read each source, parse it, and store its papers (a transaction per batch)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.fetch import FetchError, FetchPolicy, fetch, read_file
from bot.logs import redact, redact_url
from bot.sources import ParseError, parse_page
from bot.sources.text import squash
from storage import queries
from storage.queries import StoreCounts

log = logging.getLogger(__name__)

Status = Literal["ingested", "unchanged", "failed"]
# A failure is reported in one line of at most this many characters.
ERROR_LIMIT = 500


@dataclass(frozen=True, slots=True)
class SourceReport:
    source: str
    status: Status
    format: str | None = None
    parsed: int = 0
    new: int = 0
    known: int = 0
    enriched: int = 0
    error: str | None = None

    @classmethod
    def stored(cls, source: str, page_format: str, counts: StoreCounts) -> SourceReport:
        return cls(
            source,
            "ingested",
            page_format,
            counts.parsed,
            counts.new,
            counts.known,
            counts.enriched,
        )


class SourceError(Exception):
    """A source could not be read (missing file, too large, HTTP failure)."""


# A scheme of two letters at least: C:/papers or C:\\papers stays a Windows path.
_URL = re.compile(r"[a-z][a-z0-9+.-]+://", re.IGNORECASE)


def is_url(source: str) -> bool:
    """Any scheme://: fetch() reads http(s) and refuses the others by name."""
    return _URL.match(source) is not None


def expand_sources(args: Iterable[str]) -> list[str]:
    """URLs as given; files as absolute paths; directories as every non-hidden file inside."""
    sources: list[str] = []
    for arg in args:
        if is_url(arg):
            sources.append(arg)
            continue
        path = Path(arg).expanduser().resolve()
        if path.is_dir():
            sources.extend(
                str(child)
                for child in sorted(path.rglob("*"))
                if child.is_file()
                and not any(part.startswith(".") for part in child.relative_to(path).parts)
            )
        else:
            sources.append(str(path))
    return sources


def read_source(source: str, policy: FetchPolicy) -> bytes:
    try:
        if is_url(source):
            return fetch(source, policy)
        if "\x00" in source:
            raise SourceError("not a file name (holds a NUL character)")
        return read_file(Path(source), policy.max_bytes)
    except FetchError as exc:
        raise SourceError(str(exc)) from None


def ingest_source(
    sessions: sessionmaker[Session],
    source: str,
    policy: FetchPolicy,
    *,
    force: bool = False,
    now: datetime | None = None,
) -> SourceReport:
    """Ingest one source; a failure stores nothing of it (but the batches of a long page
    committed before the database failed) and is recorded against the source.

    A page whose exact content was stored before is skipped unless `force` is set (useful
    after a parser improvement). `now` stamps the records (default: the current time).
    """
    now = now or datetime.now(UTC)
    if not source.isascii() and not _encodable(source):
        # Python keeps the bytes of a file name that is not UTF-8 as lone surrogates, which
        # no database can store: the failure is reported but cannot be recorded.
        return SourceReport(source, "failed", error="the file name is not UTF-8: rename the file")
    try:
        data = read_source(source, policy)
        digest = hashlib.sha256(data).hexdigest()
        with sessions.begin() as session:
            if not force and queries.content_already_ingested(session, digest):
                queries.record_source_unchanged(session, source, digest, now)
                return SourceReport(source, "unchanged")
        page = parse_page(data)
        counts = queries.store_in_batches(
            sessions,
            page.papers,
            now,
            lambda session, counts: queries.record_source_ingested(
                session,
                source,
                page_format=page.format,
                content_hash=digest,
                date_hint=page.date_hint,
                counts=counts,
                now=now,
            ),
        )
    except (SourceError, ParseError) as exc:
        return _failed(sessions, source, str(exc), now)
    except Exception as exc:
        # Whatever goes wrong with one source, a bug included, is that source's failure: the
        # other sources are still read and this one backs off. The report says what it was
        # in one line; the traceback is for debug logs.
        log.debug("ingesting %s failed", redact_url(source), exc_info=True)
        return _failed(sessions, source, _unexpected(exc), now)
    log.debug("ingested %s: %s, %d papers", redact_url(source), page.format, counts.parsed)
    return SourceReport.stored(source, page.format, counts)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unexpected(exc: Exception) -> str:
    if isinstance(exc, SQLAlchemyError):
        # Its text holds the statement and its parameters: a whole page, perhaps.
        return f"database error: {type(exc).__name__}"
    return f"unexpected error: {type(exc).__name__}: {exc}"


def _failed(
    sessions: sessionmaker[Session], source: str, error: str, now: datetime
) -> SourceReport:
    # One printable line, without credentials: it is stored, logged and shown in chats.
    error = squash(redact(error), ERROR_LIMIT) or "unknown error"
    try:
        with sessions.begin() as session:
            queries.record_source_failure(session, source, error, now)
    except Exception as exc:
        # The database is down, or cannot hold the location (PostgreSQL takes no NUL).
        log.warning("could not record the failure of %s: %s", redact_url(source), _unexpected(exc))
    return SourceReport(source, "failed", error=error)


def ingest_all(
    sessions: sessionmaker[Session],
    sources: Sequence[str],
    policy: FetchPolicy,
    on_done: Callable[[SourceReport], None] = lambda report: None,
    *,
    force: bool = False,
    now: datetime | None = None,
) -> list[SourceReport]:
    """Ingest every source in turn; one failing source never stops the others."""
    reports = []
    for source in sources:
        report = ingest_source(sessions, source, policy, force=force, now=now)
        on_done(report)
        reports.append(report)
    return reports
