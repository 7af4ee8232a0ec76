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
from bot.records import ParsedPage
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


@dataclass(frozen=True, slots=True)
class _Page:
    """A source read and parsed, waiting to be stored."""

    source: str
    digest: str
    page: ParsedPage


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
    read = _read(sessions, source, policy, force, now)
    return read if isinstance(read, SourceReport) else _store_alone(sessions, read, now)


def _read(
    sessions: sessionmaker[Session], source: str, policy: FetchPolicy, force: bool, now: datetime
) -> SourceReport | _Page:
    """A source parsed, or its report if it failed or is unchanged."""
    if not source.isascii() and not _encodable(source):
        # Python keeps the bytes of a file name that is not UTF-8 as lone surrogates, which
        # no database can store: the failure is reported but cannot be recorded.
        return SourceReport(source, "failed", error="the file name is not UTF-8: rename the file")
    try:
        data = read_source(source, policy)
        digest = hashlib.sha256(data).hexdigest()
        if not force and (unchanged := _unchanged(sessions, source, digest, now)) is not None:
            return unchanged
        return _Page(source, digest, parse_page(data))
    except (SourceError, ParseError) as exc:
        return _failed(sessions, source, str(exc), now)
    except Exception as exc:
        return _failed_unexpectedly(sessions, source, exc, now)


def _store_alone(sessions: sessionmaker[Session], read: _Page, now: datetime) -> SourceReport:
    """Store one page, a transaction per batch of its papers."""
    page = read.page
    try:
        counts = queries.store_in_batches(
            sessions,
            page.papers,
            now,
            lambda session, counts: _record(session, read, counts, now),
        )
    except Exception as exc:
        return _failed_unexpectedly(sessions, read.source, exc, now)
    log.debug("ingested %s: %s, %d papers", redact_url(read.source), page.format, counts.parsed)
    return SourceReport.stored(read.source, page.format, counts)


def _store_together(
    sessions: sessionmaker[Session], pages: Sequence[_Page], now: datetime
) -> list[SourceReport]:
    """Store short pages in one transaction: a transaction, and each statement in it, costs
    about as much for a few papers as for a thousand. Should it fail, each page is stored
    alone, so that a page the database refuses fails alone."""
    if len(pages) == 1:
        return [_store_alone(sessions, pages[0], now)]
    try:
        with sessions.begin() as session:
            counts = queries.store_pages(session, [read.page.papers for read in pages], now)
            for read, page_counts in zip(pages, counts, strict=True):
                _record(session, read, page_counts, now)
    except Exception:
        log.debug("storing %d pages together failed", len(pages), exc_info=True)
        return [_store_alone(sessions, read, now) for read in pages]
    return [
        SourceReport.stored(read.source, read.page.format, page_counts)
        for read, page_counts in zip(pages, counts, strict=True)
    ]


def _unchanged_or_stored(
    sessions: sessionmaker[Session], read: _Page, now: datetime
) -> SourceReport:
    """A page read while one of the same content waited: unchanged once that one is stored,
    else (it failed) stored alone, as reading it again would have done."""
    try:
        unchanged = _unchanged(sessions, read.source, read.digest, now)
    except Exception as exc:
        return _failed_unexpectedly(sessions, read.source, exc, now)
    return unchanged if unchanged is not None else _store_alone(sessions, read, now)


def _unchanged(
    sessions: sessionmaker[Session], source: str, digest: str, now: datetime
) -> SourceReport | None:
    """The report of a page whose content is stored already (recorded as such), else None."""
    with sessions.begin() as session:
        if not queries.content_already_ingested(session, digest):
            return None
        queries.record_source_unchanged(session, source, digest, now)
    return SourceReport(source, "unchanged")


def _record(session: Session, read: _Page, counts: StoreCounts, now: datetime) -> None:
    queries.record_source_ingested(
        session,
        read.source,
        page_format=read.page.format,
        content_hash=read.digest,
        date_hint=read.page.date_hint,
        counts=counts,
        now=now,
    )


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


def _failed_unexpectedly(
    sessions: sessionmaker[Session], source: str, exc: Exception, now: datetime
) -> SourceReport:
    # Whatever goes wrong with one source, a bug included, is that source's failure: the
    # other sources are still read and this one backs off. The report says what it was in
    # one line; the traceback is for debug logs.
    log.debug("ingesting %s failed", redact_url(source), exc_info=True)
    return _failed(sessions, source, _unexpected(exc), now)


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
    """Ingest every source in turn; one failing source never stops the others.

    Short pages are stored together, up to queries.STORE_BATCH papers a transaction; the
    reports still come one per source, in order.
    """
    reports: list[SourceReport] = []
    waiting: list[_Page] = []

    def done(report: SourceReport) -> None:
        on_done(report)
        reports.append(report)

    def store_waiting() -> None:
        # Stamped when stored, as a page read alone is: a digest between two stores of a
        # long run must not find later papers stamped before it.
        for report in _store_together(sessions, waiting, now or datetime.now(UTC)):
            done(report)
        waiting.clear()

    for source in sources:
        if any(read.source == source for read in waiting):
            store_waiting()  # the second sighting of a source reads what the first stored
        read = _read(sessions, source, policy, force, now or datetime.now(UTC))
        if isinstance(read, SourceReport):
            store_waiting()
            done(read)
            continue
        if any(page.digest == read.digest for page in waiting) and not force:
            # The same content as a page not stored yet: stored first, this one is then
            # unchanged, from the one reading (a server may answer differently the next time).
            store_waiting()
            done(_unchanged_or_stored(sessions, read, now or datetime.now(UTC)))
            continue
        size = sum(len(page.page.papers) for page in waiting)
        if size + len(read.page.papers) > queries.STORE_BATCH:
            store_waiting()
        waiting.append(read)
    store_waiting()
    return reports
