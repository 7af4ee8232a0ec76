"""Every query paperboy runs. Nothing outside storage/ builds SQL."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Update,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.util import identity_key

from bot.records import Paper
from storage import counts
from storage.counts import Stats
from storage.identity import title_key
from storage.models import PaperRow, PaperVectorRow, SourceRow
from storage.search_index import (
    Indexed,
    analyse,
    indexed,
    update_vocabulary,
    write_terms,
)

# Stay well under the bound-parameter limits of SQLite and PostgreSQL.
_IN_CHUNK = 500
# Papers stored per transaction by store_in_batches: a huge page then never holds the write
# lock (SQLite has one for the whole file) for more than a moment, and other writers (a
# /subscribe) get their turn between batches.
STORE_BATCH = 2_000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """What storing one page did; new + known + enriched == parsed."""

    parsed: int = 0
    new: int = 0
    known: int = 0
    enriched: int = 0

    def __add__(self, other: StoreCounts) -> StoreCounts:
        return StoreCounts(
            self.parsed + other.parsed,
            self.new + other.new,
            self.known + other.known,
            self.enriched + other.enriched,
        )


def in_chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    """Values in slices short enough for one IN (...) list on either database."""
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


# Compared by identity, as ORM rows are.
@dataclass(slots=True, eq=False)
class _Record:
    """A paper a batch stores: a stored one it may enrich, or a new one (no id yet) that a
    repeat later in the batch may enrich here. New ones are inserted in one statement and
    enriched ones updated in one: plain rows, as the ORM's unit of work per row (and its
    loading of each stored paper) costs more than the statements."""

    arxiv_id: str | None
    title: str
    title_key: str
    abstract: str
    authors: list[str]
    published: date | None
    featured_on: date | None
    upvotes: int | None
    code_url: str | None
    project_url: str | None
    categories: list[str]
    keywords: list[str]
    # Set for a stored paper; a new one gets its id when the batch is inserted.
    id: int | None = None


# The columns of a _Record, in its fields' order.
_FIELDS = tuple(name for name in _Record.__slots__ if name != "id")
_LOAD = select(*(getattr(PaperRow, name) for name in _FIELDS), PaperRow.id)


class _KnownPapers:
    """The stored papers a page may refer to, indexed by arXiv id and by title key.

    Per title key only the oldest paper and those without an arXiv id are kept, the ones a
    sighting without a known id can be: a page of thousands of papers sharing a title (with
    other ids) then costs a lookup per paper, not a pass over all of them.
    """

    def __init__(self, session: Session, papers: Sequence[Paper]) -> None:
        self.by_id: dict[str, _Record] = {}
        self.oldest: dict[str, _Record] = {}
        self.without_id: dict[str, list[_Record]] = defaultdict(list)
        ids = sorted({p.arxiv_id for p in papers if p.arxiv_id})
        keys = sorted({title_key(p.title) for p in papers})
        stored: dict[int, _Record] = {}
        sqlite = session.get_bind().dialect.name == "sqlite"
        for id_chunk in _lists(ids, sqlite):
            stored.update(_load(session, PaperRow.arxiv_id.in_(id_chunk)))
        for key_chunk in _lists(keys, sqlite):
            same_title = PaperRow.title_key.in_(key_chunk)
            oldest = select(func.min(PaperRow.id)).where(same_title).group_by(PaperRow.title_key)
            stored.update(
                _load(
                    session, same_title, or_(PaperRow.arxiv_id.is_(None), PaperRow.id.in_(oldest))
                )
            )
        # Oldest first; this transaction's new papers come after, in the order they came, as
        # if each page had been stored alone.
        for _, row in sorted(stored.items()):
            self.add(row)

    def add(self, row: _Record) -> None:
        if row.arxiv_id:
            self.by_id[row.arxiv_id] = row
        self.oldest.setdefault(row.title_key, row)
        # Few: a sighting without an id is one of them once there is one.
        without_id = self.without_id[row.title_key]
        if row.arxiv_id is None and row not in without_id:
            without_id.append(row)
        elif row.arxiv_id and row in without_id:
            without_id.remove(row)

    def find(self, paper: Paper, key: str) -> _Record | None:
        if paper.arxiv_id and paper.arxiv_id in self.by_id:
            return self.by_id[paper.arxiv_id]
        if without_id := self.without_id.get(key):
            return without_id[0]
        # Two papers may share a title; an id that differs from every stored one is a new paper.
        if paper.arxiv_id is None:
            return self.oldest.get(key)
        return None


def _lists(values: list[str], sqlite: bool) -> Iterable[Sequence[str] | Select[tuple[str]]]:
    """Values for IN (...): on SQLite all of them as one JSON array that json_each reads (a
    parameter per value costs SQLAlchemy more than the lookup), else in chunks."""
    if not sqlite:
        yield from in_chunks(values)
    elif values:
        yield select(func.json_each(json.dumps(values)).table_valued("value").c.value)


def _load(session: Session, *where: ColumnElement[bool]) -> Iterator[tuple[int, _Record]]:
    for row in session.execute(_LOAD.where(*where)):
        yield row[-1], _Record(*row)  # type: ignore[call-arg]


def _merged(old: list[str], new: Sequence[str]) -> list[str]:
    return old + [value for value in new if value not in old]


def _enrichment(row: _Record, paper: Paper) -> dict[str, object]:
    """What a new sighting adds to a stored paper: ids, longer text, more authors and links."""
    updates: dict[str, object] = {}
    if row.arxiv_id is None and paper.arxiv_id:
        updates["arxiv_id"] = paper.arxiv_id
    if len(paper.abstract) > len(row.abstract):
        updates["abstract"] = paper.abstract
    if len(paper.authors) > len(row.authors):
        updates["authors"] = list(paper.authors)
    if paper.upvotes is not None and (row.upvotes is None or paper.upvotes > row.upvotes):
        updates["upvotes"] = paper.upvotes
    for name in ("published", "featured_on", "code_url", "project_url"):
        if getattr(row, name) is None and getattr(paper, name) is not None:
            updates[name] = getattr(paper, name)
    for name in ("categories", "keywords"):
        old: list[str] = getattr(row, name)
        added = [value for value in getattr(paper, name) if value not in old]
        if added:
            updates[name] = old + added
    return updates


def _new_paper(paper: Paper, key: str) -> _Record:
    return _Record(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        title_key=key,
        abstract=paper.abstract,
        authors=list(paper.authors),
        published=paper.published,
        featured_on=paper.featured_on,
        upvotes=paper.upvotes,
        code_url=paper.code_url,
        project_url=paper.project_url,
        categories=list(paper.categories),
        keywords=list(paper.keywords),
    )


def _insert(session: Session, papers: Sequence[_Record], now: datetime) -> None:
    """Insert new papers in one statement and give each its id."""
    if not papers:
        return
    rows = [
        {name: getattr(paper, name) for name in _FIELDS} | {"first_seen_at": now, "updated_at": now}
        for paper in papers
    ]
    connection = session.connection()
    # Past SQLite's largest id, new rows get random ones (only an imported file can get
    # there): then a row per statement, with its id.
    sqlite_ = connection.dialect.name == "sqlite"
    if sqlite_ and (connection.scalar(_LAST_PAPER) or 0) < _LARGEST_ID - len(rows):
        ids = _insert_sqlite(connection, rows)
    else:
        returning = insert(PaperRow).returning(PaperRow.id, sort_by_parameter_order=True)
        ids = list(connection.scalars(returning, rows))
    for paper, paper_id in zip(papers, ids, strict=True):
        paper.id = paper_id


def _insert_sqlite(connection: Connection, rows: list[dict[str, object]]) -> list[int]:
    """SQLite: the rows inserted by one executemany, and their ids read back after.

    SQLAlchemy returns ids in order from SQLite only by inserting a row per statement,
    which cost as much as the rest of an ingest's writes. SQLite gives each new row the id
    after the largest stored one, and from this transaction's first write to its commit no
    one else writes: the rows inserted are the newest, in the order they went in. Read
    after the insert: before it, another ingest may still commit papers of its own.
    """
    connection.execute(insert(PaperRow), rows)
    newest = connection.execute(_NEWEST_PAPERS, {"n": len(rows)}).all()[::-1]
    if [row.title_key for row in newest] != [row["title_key"] for row in rows]:
        # Never expected: the ids would be matched to the wrong papers, so refuse the write.
        raise RuntimeError(f"the {len(rows)} newest papers are not the ones just inserted")
    return [row.id for row in newest]


_LARGEST_ID = 2**63 - 1
_LAST_PAPER = select(func.max(PaperRow.id))
_NEWEST_PAPERS = (
    select(PaperRow.id, PaperRow.title_key).order_by(PaperRow.id.desc()).limit(bindparam("n"))
)


def store_papers(session: Session, papers: Sequence[Paper], now: datetime) -> StoreCounts:
    """Insert unseen papers and enrich known ones, inside the caller's transaction."""
    return store_pages(session, [papers], now)[0]


def store_pages(
    session: Session, pages: Sequence[Sequence[Paper]], now: datetime
) -> list[StoreCounts]:
    """store_papers for several pages in one go, each page's counts apart: as if stored one
    after the other, with one statement per table for all of them."""
    known = _KnownPapers(session, [paper for page in pages for paper in page])
    fresh: list[_Record] = []
    # Stored papers enriched, and the columns that changed: only those are written back, so
    # that another ingest's enrichment of other columns, committed meanwhile, stays.
    enriched_rows: dict[int, tuple[_Record, set[str]]] = {}
    # Stored papers whose abstract changed, and what the vocabulary counted of them before.
    changed: dict[int, tuple[_Record, Indexed]] = {}
    counts = []
    for papers in pages:
        new = unchanged = enriched = 0
        for paper in papers:
            key = title_key(paper.title)
            row = known.find(paper, key)
            if row is None:
                row = _new_paper(paper, key)
                fresh.append(row)
                new += 1
            elif updates := _enrichment(row, paper):
                if row.id is not None:  # stored before this batch
                    if "abstract" in updates and row.id not in changed:
                        changed[row.id] = (row, indexed(row.title, row.abstract))
                    enriched_rows.setdefault(row.id, (row, set()))[1].update(updates)
                for name, value in updates.items():
                    setattr(row, name, value)
                enriched += 1
            else:
                unchanged += 1
            known.add(row)
        counts.append(StoreCounts(len(papers), new, unchanged, enriched))
    session.flush()
    _update(session, enriched_rows.values(), now)
    _insert(session, fresh, now)
    _index(session, fresh, list(changed.values()))
    return counts


def _update(session: Session, papers: Iterable[tuple[_Record, set[str]]], now: datetime) -> None:
    """Write enriched stored papers back: their changed columns, a statement for each set
    of columns changed together (a handful)."""
    alike: dict[tuple[str, ...], list[_Record]] = defaultdict(list)
    for paper, changed in papers:
        alike[tuple(sorted(changed))].append(paper)
    for names, group in alike.items():
        rows = [
            {f"new_{name}": getattr(paper, name) for name in names}
            | {"paper_id": paper.id, "new_updated_at": now}
            for paper in group
        ]
        session.connection().execute(_update_statement(names), rows)
        if {"title", "abstract"} & set(names):
            # Their sentence vectors said what the old text said: made again when needed.
            ids = [paper.id for paper in group]
            session.execute(delete(PaperVectorRow).where(PaperVectorRow.paper_id.in_(ids)))
        # A copy of one of them the caller's session holds is out of date now.
        for paper in group:
            if (held := session.identity_map.get(identity_key(PaperRow, paper.id))) is not None:
                session.expire(held)


@cache
def _update_statement(names: tuple[str, ...]) -> Update:
    return (
        update(PaperRow)
        .where(PaperRow.id == bindparam("paper_id"))
        .values({name: bindparam(f"new_{name}") for name in (*names, "updated_at")})
    )


def _index(
    session: Session,
    fresh: Sequence[_Record],
    changed: Sequence[tuple[_Record, Indexed]],
) -> None:
    """Analyse new papers and stored ones whose abstract changed (given with what the
    vocabulary counted of them before) into the search tables and indexes."""
    terms: list[tuple[int, str, str, str, str]] = []
    counts: list[tuple[Indexed | None, Indexed]] = []
    papers: list[tuple[_Record, Indexed | None]] = [(paper, None) for paper in fresh]
    for row, before in papers + list(changed):
        assert row.id is not None
        analysed, after = analyse(row.title, row.abstract)
        terms.append((row.id, *analysed))
        counts.append((before, after))
    write_terms(session, terms)
    update_vocabulary(session, counts)


def store_in_batches(
    sessions: sessionmaker[Session],
    papers: Sequence[Paper],
    now: datetime,
    finish: Callable[[Session, StoreCounts], None],
    batch: int = STORE_BATCH,
) -> StoreCounts:
    """store_papers, a transaction per `batch` papers; `finish` runs in the last one with
    the page's counts (so a page of one batch is stored whole or not at all, as before).
    A failure keeps the batches already committed: they are papers as any page has them,
    and storing them again finds them known. A paper repeated in a later batch is found
    stored, as within one batch."""
    total = StoreCounts()
    starts = range(0, len(papers), batch) or range(1)
    for start in starts:
        last = start == starts[-1]
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            try:
                with sessions.begin() as session:
                    counts = store_papers(session, papers[start : start + batch], now)
                    if last:
                        finish(session, total + counts)
                break
            except IntegrityError:
                # Another ingest stored one of these papers after this batch looked it up
                # (the lookups come before the write lock): stored again, it is found.
                if attempt == _CONFLICT_ATTEMPTS:
                    raise
        total += counts
    return total


# Tries of a batch whose papers another ingest stored at the same moment.
_CONFLICT_ATTEMPTS = 3


def insert_new_papers(session: Session, papers: Sequence[Paper], now: datetime) -> None:
    """Bulk-load papers known to be new and distinct, without store_papers' lookups.

    For building large libraries quickly (bench/search.py). The search indexes and the
    search vocabulary stay in sync exactly as with store_papers.
    """
    fresh = [_new_paper(paper, title_key(paper.title)) for paper in papers]
    _insert(session, fresh, now)
    _index(session, fresh, [])


def _source(session: Session, location: str) -> SourceRow:
    row = session.scalar(select(SourceRow).where(SourceRow.location == location))
    if row is None:
        row = SourceRow(location=location)
        session.add(row)
    return row


def content_already_ingested(session: Session, content_hash: str) -> bool:
    """True if a page with exactly this content was stored before, from any location."""
    query = select(SourceRow.id).where(SourceRow.content_hash == content_hash).limit(1)
    return session.scalar(query) is not None


def record_source_unchanged(
    session: Session, location: str, content_hash: str, now: datetime
) -> None:
    row = _source(session, location)
    row.content_hash = content_hash
    row.last_checked_at = now
    row.last_error = None
    row.consecutive_failures = 0


def record_source_ingested(
    session: Session,
    location: str,
    *,
    page_format: str,
    content_hash: str,
    date_hint: str | None,
    counts: StoreCounts,
    now: datetime,
) -> None:
    row = _source(session, location)
    row.format = page_format
    row.content_hash = content_hash
    row.date_hint = date_hint
    row.papers_parsed = counts.parsed
    row.papers_new = counts.new
    row.papers_known = counts.known
    row.papers_enriched = counts.enriched
    row.last_checked_at = row.last_ingested_at = now
    row.last_error = None
    row.last_error_at = None
    row.consecutive_failures = 0


def record_source_failure(session: Session, location: str, error: str, now: datetime) -> None:
    row = _source(session, location)
    row.last_checked_at = row.last_error_at = now
    row.last_error = error
    row.consecutive_failures = (row.consecutive_failures or 0) + 1


def stats(session: Session) -> Stats:
    return counts.stats(lambda sql: session.scalar(text(sql)) or 0)


def paper_record(row: PaperRow) -> Paper:
    """A stored paper as the record the other layers use."""
    return Paper(
        title=row.title,
        abstract=row.abstract,
        arxiv_id=row.arxiv_id,
        authors=tuple(row.authors),
        published=row.published,
        featured_on=row.featured_on,
        upvotes=row.upvotes,
        code_url=row.code_url,
        project_url=row.project_url,
        categories=tuple(row.categories),
        keywords=tuple(row.keywords),
    )


def all_papers(session: Session) -> list[Paper]:
    """Every stored paper, newest first."""
    newest = select(PaperRow).order_by(PaperRow.first_seen_at.desc(), PaperRow.id.desc())
    rows = session.scalars(newest)
    return [paper_record(row) for row in rows]


def failing_sources(session: Session) -> list[SourceRow]:
    query = select(SourceRow).where(SourceRow.last_error.is_not(None)).order_by(SourceRow.location)
    return list(session.scalars(query))


def scheduled_sources(session: Session) -> list[str]:
    """Sources an admin added: ingested on every scheduled run."""
    query = select(SourceRow.location).where(SourceRow.scheduled.is_(True))
    return list(session.scalars(query.order_by(SourceRow.id)))


def schedule_source(session: Session, location: str, scheduled: bool) -> bool:
    """Add a source to the scheduled runs, or take it off; False if there was nothing to remove."""
    if scheduled:
        _source(session, location).scheduled = True
        return True
    query = select(SourceRow).where(SourceRow.location == location, SourceRow.scheduled.is_(True))
    row = session.scalar(query)
    if row is None:
        return False
    row.scheduled = False
    return True


def failures_since(session: Session, locations: Sequence[str]) -> dict[str, tuple[int, datetime]]:
    """The failing ones of these sources: consecutive failures and when the last one was."""
    found: dict[str, tuple[int, datetime]] = {}
    for chunk in in_chunks(locations):
        query = select(SourceRow).where(
            SourceRow.location.in_(chunk),
            SourceRow.consecutive_failures > 0,
            SourceRow.last_error_at.is_not(None),
        )
        for row in session.scalars(query):
            assert row.last_error_at is not None
            found[row.location] = (row.consecutive_failures, row.last_error_at)
    return found
