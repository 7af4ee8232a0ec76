"""What a chat tells the bot about papers: ratings (👍/👎), saved papers (🔖) and an
imported library (BibTeX or RIS), which the chat's recommendations learn from. Returns
data; render.py and the handlers turn it into messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.library import Skipped, read_library
from bot.records import Mark, Paper
from storage import feedback, subscriptions
from storage.identity import title_key

LIKE, DISLIKE = 1, -1
# What an entry keeps: no paper has a longer title, and an index entry on PostgreSQL may
# not pass 8 KB (a 10 KB "title" failed the whole import there).
TITLE_MAX = 500
ABSTRACT_MAX = 10_000


@dataclass(frozen=True, slots=True)
class LibraryReport:
    """What an import did: entries read, matched to stored papers, kept as profile text
    (not in the store: their title and abstract), and skipped, one reason each, so that
    read = matched + kept + len(skipped)."""

    read: int
    matched: int
    kept: int
    new: int
    skipped: list[str] = field(default_factory=list)


def _subscriber_id(session: Session, chat_id: int, chat_type: str, now: datetime) -> int:
    row = subscriptions.find(session, chat_id)
    if row is None:
        row = subscriptions.enroll(session, chat_id, chat_type, now)
    return row.id


def _known_subscriber(session: Session, chat_id: int) -> int | None:
    row = subscriptions.find(session, chat_id)
    return row.id if row else None


def import_library(
    session: Session,
    chat_id: int,
    chat_type: str,
    data: bytes,
    filename: str | None,
    now: datetime,
) -> LibraryReport:
    """Keep a library file's entries as the chat's profile (the chat is enrolled if new).
    Raises bot.library.LibraryError, changing nothing, for a file that is not a library."""
    found = read_library(data, filename)
    by_id, by_title = feedback.find_papers(
        session,
        [e.arxiv_id for e in found.entries if e.arxiv_id],
        [title_key(e.title[:TITLE_MAX]) for e in found.entries],
    )
    records: dict[str, feedback.LibraryRecord] = {}
    skipped = [_where(s) + s.reason for s in found.skipped]
    for entry in found.entries:
        title = entry.title[:TITLE_MAX]
        key = title_key(title)
        if key in records:
            skipped.append(f"{title[:60]}: the same title again, read once")
            continue
        paper_id = by_id.get(entry.arxiv_id or "") or by_title.get(key)
        records[key] = feedback.LibraryRecord(
            title, key, entry.abstract[:ABSTRACT_MAX], entry.arxiv_id, paper_id
        )
    matched = sum(1 for r in records.values() if r.paper_id is not None)
    subscriber_id = _subscriber_id(session, chat_id, chat_type, now)
    new = feedback.add_library(session, subscriber_id, list(records.values()), now)
    return LibraryReport(
        read=len(found.entries) + len(found.skipped),
        matched=matched,
        kept=len(records) - matched,
        new=new,
        skipped=skipped,
    )


def _where(skipped: Skipped) -> str:
    """ "line 12, smith2020: " before a skipped entry's reason."""
    place = ", ".join(filter(None, [f"line {skipped.line}" if skipped.line else "", skipped.key]))
    return f"{place}: " if place else ""


def rate(
    session: Session, chat_id: int, chat_type: str, paper_id: int, value: int, now: datetime
) -> Mark | None:
    """Rate a paper for the chat (0 takes a rating back); None if the paper is not stored."""
    if feedback.paper(session, paper_id) is None:
        return None
    subscriber_id = _subscriber_id(session, chat_id, chat_type, now)
    feedback.rate(session, subscriber_id, paper_id, value, now)
    return feedback.marks(session, subscriber_id, [paper_id]).get(paper_id, Mark())


def save(
    session: Session, chat_id: int, chat_type: str, paper_id: int, saved: bool, now: datetime
) -> Mark | None:
    """Save a paper for the chat, or unsave it; None if the paper is not stored."""
    if feedback.paper(session, paper_id) is None:
        return None
    subscriber_id = _subscriber_id(session, chat_id, chat_type, now)
    feedback.save(session, subscriber_id, paper_id, saved, now)
    return feedback.marks(session, subscriber_id, [paper_id]).get(paper_id, Mark())


def marks(session: Session, chat_id: int, paper_ids: list[int]) -> dict[int, Mark]:
    subscriber_id = _known_subscriber(session, chat_id)
    return feedback.marks(session, subscriber_id, paper_ids) if subscriber_id else {}


def saved(
    session: Session, chat_id: int, offset: int = 0, limit: int | None = None
) -> tuple[int, list[tuple[int, Paper]]]:
    """How many papers the chat saved, and a page of them (newest first)."""
    subscriber_id = _known_subscriber(session, chat_id)
    if subscriber_id is None:
        return 0, []
    total = feedback.saved_count(session, subscriber_id)
    return total, feedback.saved_papers(session, subscriber_id, offset, limit)


def papers(session: Session, paper_ids: Sequence[int]) -> dict[int, Paper]:
    """The stored papers of these row ids, by row id."""
    return feedback.papers(session, paper_ids)


def stored_paper(session: Session, wanted: str | int) -> tuple[int, Paper] | None:
    """The stored paper with the arXiv id or the row id `wanted`, and its row id; None if
    no such paper is stored."""
    if isinstance(wanted, str):
        by_id, _ = feedback.find_papers(session, [wanted], [])
        paper_id = by_id.get(wanted)
        if paper_id is None:
            return None
    else:
        paper_id = wanted
    paper = feedback.paper(session, paper_id)
    return (paper_id, paper) if paper is not None else None
