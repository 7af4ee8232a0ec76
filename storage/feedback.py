"""What a chat told the bot about papers: ratings, saved papers, its imported library, and
the ranker fitted from them (a cache: dropped whenever any of the others changes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, delete, func, or_, select, text, union
from sqlalchemy.orm import Session

from bot.records import Mark as Mark  # a record of bot/records.py, re-exported
from bot.records import Paper
from storage.identity import title_key
from storage.models import (
    LibraryEntryRow,
    PaperRow,
    ProfileRow,
    RatingRow,
    SavedRow,
)
from storage.queries import in_chunks, paper_record
from storage.search_index import TERMS_TABLE

_ANALYSED = text(
    f"SELECT id, title_family, abstract_family FROM {TERMS_TABLE} WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True, slots=True)
class LibraryRecord:
    """An entry of an imported library, matched to a stored paper (paper_id) or not."""

    title: str
    title_key: str
    abstract: str
    arxiv_id: str | None
    paper_id: int | None


@dataclass(frozen=True, slots=True)
class LibraryText:
    """A library entry that is no stored paper, and what it says."""

    entry_id: int
    title: str
    abstract: str


@dataclass(frozen=True, slots=True)
class Feedback:
    """Everything a chat's ranker learns from. Liked, saved and matched library papers are
    positive, disliked papers negative; `texts` are library entries not in the store."""

    liked: list[int]
    saved: list[int]
    disliked: list[int]
    library: list[int]
    texts: list[LibraryText]

    @property
    def positive(self) -> list[int]:
        return list(dict.fromkeys(self.liked + self.saved + self.library))

    @property
    def empty(self) -> bool:
        return not (self.positive or self.texts)


def _forget_profile(session: Session, subscriber_id: int) -> None:
    session.execute(delete(ProfileRow).where(ProfileRow.subscriber_id == subscriber_id))


def paper(session: Session, paper_id: int) -> Paper | None:
    row = session.get(PaperRow, paper_id)
    return paper_record(row) if row else None


# Built once: a digest run asks for every chat's few papers and ranker, and building the
# statement each time cost about as much as running it.
_PAPERS = select(PaperRow).where(PaperRow.id.in_(bindparam("ids", expanding=True)))
_PROFILES = select(ProfileRow.subscriber_id, ProfileRow.model).where(
    ProfileRow.subscriber_id.in_(bindparam("ids", expanding=True))
)


def papers(session: Session, paper_ids: Sequence[int]) -> dict[int, Paper]:
    if not paper_ids:
        return {}
    rows = session.scalars(_PAPERS, {"ids": sorted(set(paper_ids))})
    return {row.id: paper_record(row) for row in rows}


def rate(session: Session, subscriber_id: int, paper_id: int, value: int, now: datetime) -> None:
    """Set the chat's rating of a paper: +1, -1, or 0 to take it back."""
    session.execute(
        delete(RatingRow).where(
            RatingRow.subscriber_id == subscriber_id, RatingRow.paper_id == paper_id
        )
    )
    if value:
        session.add(
            RatingRow(subscriber_id=subscriber_id, paper_id=paper_id, value=value, rated_at=now)
        )
    _forget_profile(session, subscriber_id)
    session.flush()


def save(session: Session, subscriber_id: int, paper_id: int, saved: bool, now: datetime) -> None:
    """Save a paper for the chat, or take it out of its saved papers."""
    session.execute(
        delete(SavedRow).where(
            SavedRow.subscriber_id == subscriber_id, SavedRow.paper_id == paper_id
        )
    )
    if saved:
        session.add(SavedRow(subscriber_id=subscriber_id, paper_id=paper_id, saved_at=now))
    _forget_profile(session, subscriber_id)
    session.flush()


def marks(session: Session, subscriber_id: int, paper_ids: Sequence[int]) -> dict[int, Mark]:
    """The chat's feedback on these papers (papers without any are left out)."""
    if not paper_ids:
        return {}
    wanted = set(paper_ids)
    ratings = dict(
        session.execute(
            select(RatingRow.paper_id, RatingRow.value).where(
                RatingRow.subscriber_id == subscriber_id, RatingRow.paper_id.in_(wanted)
            )
        ).all()
    )
    saved = set(
        session.scalars(
            select(SavedRow.paper_id).where(
                SavedRow.subscriber_id == subscriber_id, SavedRow.paper_id.in_(wanted)
            )
        )
    )
    return {
        paper_id: Mark(ratings.get(paper_id, 0), paper_id in saved)
        for paper_id in wanted
        if paper_id in ratings or paper_id in saved
    }


def saved_count(session: Session, subscriber_id: int) -> int:
    query = select(func.count()).select_from(SavedRow)
    return session.scalar(query.where(SavedRow.subscriber_id == subscriber_id)) or 0


def saved_papers(
    session: Session, subscriber_id: int, offset: int = 0, limit: int | None = None
) -> list[tuple[int, Paper]]:
    """The chat's saved papers, most recently saved first."""
    query = (
        select(PaperRow)
        .join(SavedRow, SavedRow.paper_id == PaperRow.id)
        .where(SavedRow.subscriber_id == subscriber_id)
        .order_by(SavedRow.saved_at.desc(), SavedRow.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [(row.id, paper_record(row)) for row in session.scalars(query)]


def find_papers(
    session: Session, arxiv_ids: Sequence[str], title_keys: Sequence[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Stored papers by arXiv id and by title key, to match a library's entries with."""
    by_id: dict[str, int] = {}
    by_title: dict[str, int] = {}
    for chunk in in_chunks(sorted(set(arxiv_ids))):
        query = select(PaperRow.arxiv_id, PaperRow.id).where(PaperRow.arxiv_id.in_(chunk))
        by_id.update((key, paper_id) for key, paper_id in session.execute(query) if key)
    for chunk in in_chunks(sorted(set(title_keys))):
        query = select(PaperRow.title_key, PaperRow.id).where(PaperRow.title_key.in_(chunk))
        for key, paper_id in session.execute(query.order_by(PaperRow.id)):
            by_title.setdefault(key, paper_id)
    return by_id, by_title


def add_library(
    session: Session, subscriber_id: int, entries: Sequence[LibraryRecord], now: datetime
) -> int:
    """Keep a library's entries as the chat's profile; returns how many were new to it (an
    entry already imported, by title, is updated instead)."""
    existing = {
        row.title_key: row
        for row in session.scalars(
            select(LibraryEntryRow).where(LibraryEntryRow.subscriber_id == subscriber_id)
        )
    }
    added = 0
    for entry in entries:
        row = existing.get(entry.title_key)
        if row is None:
            row = LibraryEntryRow(subscriber_id=subscriber_id, title_key=entry.title_key)
            session.add(row)
            existing[entry.title_key] = row
            added += 1
        abstract = entry.abstract or row.abstract or ""
        if (row.title, row.abstract) != (entry.title, abstract):
            row.vector = None  # it said what the old text said
        row.title = entry.title
        row.abstract = abstract
        row.arxiv_id = entry.arxiv_id or row.arxiv_id
        row.paper_id = entry.paper_id or row.paper_id
        row.added_at = now
    _forget_profile(session, subscriber_id)
    session.flush()
    return added


def feedback(session: Session, subscriber_id: int) -> Feedback:
    ratings = session.execute(
        select(RatingRow.paper_id, RatingRow.value)
        .where(RatingRow.subscriber_id == subscriber_id)
        .order_by(RatingRow.rated_at.desc())
    ).all()
    liked: list[int] = []
    disliked: list[int] = []
    for rated, value in ratings:
        (liked if value > 0 else disliked).append(rated)
    saved = list(
        session.scalars(
            select(SavedRow.paper_id)
            .where(SavedRow.subscriber_id == subscriber_id)
            .order_by(SavedRow.saved_at.desc())
        )
    )
    library: list[int] = []
    texts: list[LibraryText] = []
    entries = session.execute(
        select(
            LibraryEntryRow.id,
            LibraryEntryRow.paper_id,
            LibraryEntryRow.title,
            LibraryEntryRow.abstract,
        )
        .where(LibraryEntryRow.subscriber_id == subscriber_id)
        .order_by(LibraryEntryRow.id)
    ).all()
    for entry_id, matched, title, abstract in entries:
        if matched is not None:
            library.append(matched)
        else:
            texts.append(LibraryText(entry_id, title, abstract))
    return Feedback(liked, saved, disliked, library, texts)


def title_keys(session: Session, paper_ids: Sequence[int]) -> dict[int, str]:
    """Papers' title keys (storage/identity.py), by id."""
    found: dict[int, str] = {}
    for chunk in in_chunks(paper_ids):
        query = select(PaperRow.id, PaperRow.title_key).where(PaperRow.id.in_(chunk))
        found.update((row.id, row.title_key) for row in session.execute(query))
    return found


def analysed(session: Session, paper_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Papers' title and abstract as the search index holds them: word families, analysed
    once at ingest (storage/search_index.py), so a ranker never analyses them again."""
    found: dict[int, tuple[str, str]] = {}
    for chunk in in_chunks(paper_ids):
        rows = session.execute(_ANALYSED, {"ids": list(chunk)}).all()
        found.update((paper_id, (title, abstract)) for paper_id, title, abstract in rows)
    return found


def profiles(session: Session, subscriber_ids: Sequence[int]) -> dict[int, str]:
    """The fitted rankers of these chats, as stored JSON."""
    if not subscriber_ids:
        return {}
    found = session.execute(_PROFILES, {"ids": sorted(set(subscriber_ids))})
    return {row.subscriber_id: row.model for row in found}


def keep_profile(
    bind: Engine | Connection, subscriber_id: int, model: str, now: datetime, learnt: Feedback
) -> bool:
    """Keep a chat's ranker, fitted from `learnt`, in a short transaction of its own: it is
    fitted where a digest run or /similar only reads, and is worth keeping all the same
    (fitting takes a tenth of a second a chat, a digest run scores thousands). Not kept if
    the chat's feedback changed while it was fitted (a tap meanwhile): False."""
    with Session(bind) as session, session.begin():
        _forget_profile(session, subscriber_id)
        session.add(ProfileRow(subscriber_id=subscriber_id, model=model, fitted_at=now))
        session.flush()
        # Checked after the row is written: a tap that commits from here on deletes it.
        if feedback(session, subscriber_id) != learnt:
            session.rollback()
            return False
    return True


@dataclass(frozen=True, slots=True)
class Reference:
    """A paper as an export names it, so that another database can find it again: its arXiv
    id when known, and its title; `value` is a rating (+1, -1) or 0."""

    title: str
    arxiv_id: str | None = None
    value: int = 0


@dataclass(frozen=True, slots=True)
class Held:
    """Everything a chat told the bot about papers, as an export carries it: ratings and
    saved papers (newest first) and its library (entries in import order, each a
    LibraryRecord whose paper_id is the stored paper it matched, if any)."""

    ratings: list[Reference]
    saved: list[Reference]
    library: list[LibraryRecord]


def held(session: Session, subscriber_id: int) -> Held:
    """The chat's ratings, saved papers and library, for its export."""
    ratings = session.execute(
        select(PaperRow.title, PaperRow.arxiv_id, RatingRow.value)
        .join(RatingRow, RatingRow.paper_id == PaperRow.id)
        .where(RatingRow.subscriber_id == subscriber_id)
        .order_by(RatingRow.rated_at.desc(), RatingRow.id.desc())
    ).all()
    saved = session.execute(
        select(PaperRow.title, PaperRow.arxiv_id)
        .join(SavedRow, SavedRow.paper_id == PaperRow.id)
        .where(SavedRow.subscriber_id == subscriber_id)
        .order_by(SavedRow.saved_at.desc(), SavedRow.id.desc())
    ).all()
    library = session.scalars(
        select(LibraryEntryRow)
        .where(LibraryEntryRow.subscriber_id == subscriber_id)
        .order_by(LibraryEntryRow.id)
    )
    return Held(
        [Reference(title, arxiv_id, value) for title, arxiv_id, value in ratings],
        [Reference(title, arxiv_id) for title, arxiv_id in saved],
        [
            LibraryRecord(row.title, row.title_key, row.abstract, row.arxiv_id, row.paper_id)
            for row in library
        ],
    )


@dataclass(frozen=True, slots=True)
class Restored:
    """What restoring an export did: ratings and saved papers found among the stored papers
    (the others are `missing`), and library entries (always kept)."""

    ratings: int
    saved: int
    library: int
    missing: int


def restore(
    session: Session,
    subscriber_id: int,
    ratings: Sequence[Reference],
    saved: Sequence[Reference],
    library: Sequence[tuple[str, str, str | None]],
    now: datetime,
) -> Restored:
    """Bring back an export's ratings and saved papers where their papers are stored (by
    arXiv id, else by title key), and its library entries (title, abstract, arXiv id) always,
    matched to stored papers as an import matches them. Saved papers keep their order."""
    wanted = [*ratings, *saved]
    by_id, by_title = find_papers(
        session,
        [r.arxiv_id for r in wanted if r.arxiv_id] + [arxiv for _, _, arxiv in library if arxiv],
        [title_key(r.title) for r in wanted] + [title_key(title) for title, _, _ in library],
    )

    def stored(arxiv_id: str | None, title: str) -> int | None:
        return by_id.get(arxiv_id or "") or by_title.get(title_key(title))

    rated = kept = 0
    missing = 0
    # Newest first in the export: each a second older than the one before, so that the
    # order survives.
    for age, reference in enumerate(ratings):
        paper_id = stored(reference.arxiv_id, reference.title)
        if paper_id is None:
            missing += 1
            continue
        rate(session, subscriber_id, paper_id, reference.value, now - timedelta(seconds=age))
        rated += 1
    for age, reference in enumerate(saved):
        paper_id = stored(reference.arxiv_id, reference.title)
        if paper_id is None:
            missing += 1
            continue
        save(session, subscriber_id, paper_id, True, now - timedelta(seconds=age))
        kept += 1
    records = {
        title_key(title): LibraryRecord(
            title, title_key(title), abstract, arxiv_id, stored(arxiv_id, title)
        )
        for title, abstract, arxiv_id in library
    }
    if records:
        add_library(session, subscriber_id, list(records.values()), now)
    return Restored(rated, kept, len(records), missing)


@dataclass(frozen=True, slots=True)
class Approval:
    """A paper first stored recently, with its Hugging Face upvotes and the number of
    different chats that liked (👍) or saved (🔖) it; never which chats."""

    paper_id: int
    paper: Paper
    upvotes: int
    chats: int


def approvals(session: Session, since: datetime, min_chats: int) -> list[Approval]:
    """The papers first stored at or after `since` that have upvotes, or that at least
    `min_chats` different chats liked or saved (a chat that did both counts once)."""
    approving = union(
        select(RatingRow.subscriber_id, RatingRow.paper_id).where(RatingRow.value > 0),
        select(SavedRow.subscriber_id, SavedRow.paper_id),
    ).subquery()
    chats = (
        select(approving.c.paper_id, func.count().label("chats"))
        .group_by(approving.c.paper_id)
        .subquery()
    )
    query = (
        select(PaperRow, func.coalesce(chats.c.chats, 0))
        .outerjoin(chats, chats.c.paper_id == PaperRow.id)
        .where(PaperRow.first_seen_at >= since)
        .where(or_(PaperRow.upvotes > 0, chats.c.chats >= min_chats))
    )
    return [
        Approval(row.id, paper_record(row), row.upvotes or 0, count)
        for row, count in session.execute(query)
    ]
