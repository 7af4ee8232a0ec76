"""Queries about subscribers: their chats, keywords, settings and what they were sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.records import Paper
from storage.models import DeliveryRow, KeywordRow, PaperRow, SubscriberRow
from storage.queries import in_chunks, paper_record

# The key of Session.info holding the schedule new subscribers get (PAPERBOY_DEFAULT_SCHEDULE):
# every way a chat comes to be enrolled (a command, a button, a library file) goes through
# the bot's sessions, so the setting is given to them once rather than to each caller.
DEFAULT_SCHEDULE = "paperboy.default_schedule"


def use_default_schedule(sessions: sessionmaker[Session], schedule: str) -> None:
    """New subscribers enrolled in these sessions get `schedule` (as bot/schedule.py stores
    it) instead of "daily"."""
    sessions.configure(info={DEFAULT_SCHEDULE: schedule})


# Built once: every command and every chat of a digest run looks its subscriber up.
_FIND = (
    select(SubscriberRow)
    .where(SubscriberRow.chat_id == bindparam("chat"))
    .options(selectinload(SubscriberRow.keywords))
)


def find(session: Session, chat_id: int) -> SubscriberRow | None:
    """The chat's subscriber, with its keywords."""
    return session.scalar(_FIND, {"chat": chat_id})


_SUBSCRIBED = select(SubscriberRow.id).where(SubscriberRow.chat_id == bindparam("chat"))


def is_subscribed(session: Session, chat_id: int) -> bool:
    """Whether the chat has a subscriber row: find() without loading it and its keywords."""
    return session.scalar(_SUBSCRIBED, {"chat": chat_id}) is not None


@dataclass(frozen=True, slots=True)
class DigestDays:
    """What a chat's digest days are reckoned from, as stored now."""

    timezone: str
    delivery_time: time
    schedule: str
    last_digest_on: date | None


_DIGEST_DAYS = select(
    SubscriberRow.timezone,
    SubscriberRow.delivery_time,
    SubscriberRow.schedule,
    SubscriberRow.last_digest_on,
).where(SubscriberRow.chat_id == bindparam("chat"))


def digest_days(session: Session, chat_id: int) -> DigestDays | None:
    """The chat's digest days read afresh from the database (not from a row the session
    may hold from before), without its keywords; None if it has no subscriber."""
    found = session.execute(_DIGEST_DAYS, {"chat": chat_id}).first()
    return None if found is None else DigestDays(*found)


def enroll(
    session: Session,
    chat_id: int,
    chat_type: str,
    now: datetime,
    *,
    title: str | None = None,
    thread_id: int | None = None,
) -> SubscriberRow:
    """The subscriber of a chat, created if new; a chat that had gone away becomes active."""
    row = find(session, chat_id)
    if row is None:
        row = SubscriberRow(
            chat_id=chat_id,
            chat_type=chat_type,
            created_at=now,
            keywords=[],
            schedule=session.info.get(DEFAULT_SCHEDULE, "daily"),
        )
        session.add(row)
    if not row.active:
        row.next_digest_at = None  # back after a long absence: from the next digest time on
    row.active = True
    row.chat_type = chat_type
    row.title = title or row.title
    if thread_id is not None:
        row.thread_id = thread_id
    session.flush()
    return row


def keywords(row: SubscriberRow) -> list[str]:
    return sorted((k.keyword for k in row.keywords), key=str.casefold)


def add_keywords(row: SubscriberRow, new: Sequence[str]) -> list[str]:
    """Add keywords not yet present (compared case-insensitively); returns those added."""
    present = {k.keyword.casefold() for k in row.keywords}
    added = []
    for keyword in new:
        if keyword.casefold() not in present:
            row.keywords.append(KeywordRow(keyword=keyword))
            present.add(keyword.casefold())
            added.append(keyword)
    return added


def remove_keyword(row: SubscriberRow, keyword: str) -> str | None:
    """Remove a keyword (case-insensitively); returns it as it was stored, or None."""
    for stored in row.keywords:
        if stored.keyword.casefold() == keyword.casefold():
            row.keywords.remove(stored)
            return stored.keyword
    return None


def set_schedule(
    row: SubscriberRow,
    *,
    timezone: str | None = None,
    at: time | None = None,
    days: str | None = None,
) -> None:
    """Change the time zone, the time or the days (a schedule as bot/schedule.py stores it)."""
    if timezone is not None:
        row.timezone = timezone
    if at is not None:
        row.delivery_time = at
    if days is not None:
        row.schedule = days
    row.next_digest_at = None  # the scheduler computes it again from the new settings


def set_paused(row: SubscriberRow, paused: bool) -> None:
    if row.paused and not paused:
        row.next_digest_at = None  # no catch-up of the days paused: the next digest time on
    row.paused = paused


def forget(session: Session, chat_id: int) -> bool:
    """Delete a chat's subscriber with its keywords and delivery history."""
    result = session.execute(delete(SubscriberRow).where(SubscriberRow.chat_id == chat_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def deactivate(session: Session, chat_id: int) -> None:
    """The chat is gone for the bot (blocked, kicked, deleted): stop sending to it."""
    session.execute(
        update(SubscriberRow).where(SubscriberRow.chat_id == chat_id).values(active=False)
    )


def migrate(session: Session, old_chat_id: int, new_chat_id: int) -> None:
    """A group became a supergroup with a new id: the subscription moves with it. If the
    supergroup has a subscription of its own already, that one stays and the old group's
    stops (its id no longer reaches anyone)."""
    if find(session, new_chat_id) is None:
        session.execute(
            update(SubscriberRow)
            .where(SubscriberRow.chat_id == old_chat_id)
            .values(chat_id=new_chat_id, chat_type="supergroup")
        )
    else:
        deactivate(session, old_chat_id)


def forget_thread(session: Session, chat_id: int) -> None:
    """The forum topic the chat's digests went to was deleted: send to the chat itself."""
    session.execute(
        update(SubscriberRow).where(SubscriberRow.chat_id == chat_id).values(thread_id=None)
    )


def newest_paper_id(session: Session) -> int | None:
    """The id of the most recently stored paper: it changes whenever papers are added."""
    return session.scalar(select(func.max(PaperRow.id)))


def newest_papers(session: Session, limit: int, offset: int = 0) -> list[tuple[int, Paper]]:
    """The newest stored papers with their row ids (after skipping `offset` newer ones)."""
    query = select(PaperRow).order_by(PaperRow.first_seen_at.desc(), PaperRow.id.desc())
    rows = session.scalars(query.limit(limit).offset(offset))
    return [(row.id, paper_record(row)) for row in rows]


def first_seen_since(session: Session, since: datetime, among: Sequence[int]) -> set[int]:
    """Which of these papers were first stored at `since` or later (a weekly digest's): a
    digest's candidates only, however many papers a week brought (an import, say)."""
    found: set[int] = set()
    for chunk in in_chunks(among):
        query = select(PaperRow.id).where(PaperRow.id.in_(chunk), PaperRow.first_seen_at >= since)
        found.update(session.scalars(query))
    return found


def delivered_among(session: Session, subscriber_id: int, paper_ids: Sequence[int]) -> set[int]:
    """Which of these papers were delivered to the subscriber already."""
    if not paper_ids:
        return set()
    query = select(DeliveryRow.paper_id).where(
        DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.paper_id.in_(paper_ids)
    )
    return set(session.scalars(query))


# Built once: a digest run asks this of every chat it recommends to.
_DELIVERED_SINCE = select(DeliveryRow.paper_id).where(
    DeliveryRow.subscriber_id == bindparam("subscriber"),
    DeliveryRow.paper_id >= bindparam("lowest"),
)


def delivered_since(session: Session, subscriber_id: int, lowest_id: int) -> set[int]:
    """The papers from row id `lowest_id` on that were delivered to the subscriber: the
    newest papers' deliveries, without naming each paper in the query."""
    return set(
        session.scalars(_DELIVERED_SINCE, {"subscriber": subscriber_id, "lowest": lowest_id})
    )


def record_deliveries(
    session: Session, subscriber_id: int, paper_ids: Iterable[int], now: datetime
) -> None:
    """Remember that these papers reached the chat; papers already recorded are skipped."""
    ids = set(paper_ids)
    already = set(
        session.scalars(
            select(DeliveryRow.paper_id).where(
                DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.paper_id.in_(ids)
            )
        )
    )
    session.add_all(
        DeliveryRow(subscriber_id=subscriber_id, paper_id=paper_id, delivered_at=now)
        for paper_id in sorted(ids - already)
    )
    session.flush()


def delivered_count(session: Session, subscriber_id: int) -> int:
    query = select(func.count()).select_from(DeliveryRow)
    return session.scalar(query.where(DeliveryRow.subscriber_id == subscriber_id)) or 0


def remove_keyword_id(session: Session, chat_id: int, keyword_id: int) -> str | None:
    """Remove one keyword of a chat by its id (from an inline button); returns its text."""
    row = session.scalar(
        select(KeywordRow)
        .join(SubscriberRow)
        .where(KeywordRow.id == keyword_id, SubscriberRow.chat_id == chat_id)
    )
    if row is None:
        return None
    session.delete(row)
    return row.keyword
