"""Queries of the digest schedule, the leases that keep one process delivering, and bot state."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import LeaseRow, StateRow, SubscriberRow

# Keys of bot_state.
LAST_INGEST = "last_ingest_at"
LAST_DIGEST_RUN = "last_digest_run"
FLOOD_WAIT_UNTIL = "flood_wait_until"
HEARTBEAT = "heartbeat_at"  # written by the running bot every tick

_RECEIVING = (SubscriberRow.active.is_(True), SubscriberRow.paused.is_(False))


def schedule_unscheduled(session: Session, next_for: Callable[[SubscriberRow], datetime]) -> int:
    """Give every receiving subscriber without a next digest time one; returns how many."""
    rows = session.scalars(
        select(SubscriberRow).where(SubscriberRow.next_digest_at.is_(None), *_RECEIVING)
    ).all()
    for row in rows:
        row.next_digest_at = next_for(row)
    session.flush()
    return len(rows)


def due(session: Session, now: datetime) -> list[int]:
    """Chat ids whose scheduled digest is due, the longest waiting first."""
    query = (
        select(SubscriberRow.chat_id)
        .where(SubscriberRow.next_digest_at <= now, *_RECEIVING)
        .order_by(SubscriberRow.next_digest_at, SubscriberRow.id)
    )
    return list(session.scalars(query))


def receiving_count(session: Session) -> int:
    query = select(func.count()).select_from(SubscriberRow).where(*_RECEIVING)
    return session.scalar(query) or 0


def receiving(session: Session) -> list[SubscriberRow]:
    """Every subscriber that takes digests (active, not paused)."""
    return list(
        session.scalars(select(SubscriberRow).where(*_RECEIVING).order_by(SubscriberRow.id))
    )


def finish_digest(session: Session, chat_id: int, day: date, next_at: datetime) -> None:
    """The digest of local `day` is done for this chat; the next one is at `next_at`."""
    session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.chat_id == chat_id)
        .values(last_digest_on=day, next_digest_at=next_at)
    )


def claim(session: Session, chat_id: int, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Claim the chat's digest for `owner` until now + ttl; False if another process holds
    a live claim. The row is locked FOR UPDATE SKIP LOCKED (on PostgreSQL; SQLite has one
    writer at a time anyway), so two processes claiming at once never both get it."""
    free = (
        select(SubscriberRow.id)
        .where(
            SubscriberRow.chat_id == chat_id,
            or_(
                SubscriberRow.claimed_until.is_(None),
                SubscriberRow.claimed_until <= now,
                SubscriberRow.claimed_by == owner,
            ),
        )
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.id.in_(free.scalar_subquery()))
        .values(claimed_by=owner, claimed_until=now + ttl)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_claim(session: Session, chat_id: int, owner: str) -> None:
    session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.chat_id == chat_id, SubscriberRow.claimed_by == owner)
        .values(claimed_by=None, claimed_until=None)
    )


def claim_owners(session: Session) -> set[str]:
    query = select(SubscriberRow.claimed_by).where(SubscriberRow.claimed_by.is_not(None))
    return {owner for owner in session.scalars(query.distinct()) if owner}


def release_claims(session: Session, owners: Iterable[str]) -> None:
    """Drop every claim of these owners (processes known to be dead)."""
    gone = list(owners)
    if gone:
        session.execute(
            update(SubscriberRow)
            .where(SubscriberRow.claimed_by.in_(gone))
            .values(claimed_by=None, claimed_until=None)
        )


def postpone(session: Session, chat_id: int, until: datetime) -> None:
    """The chat's digest could not be sent: try again at `until`, its day still open."""
    session.execute(
        update(SubscriberRow).where(SubscriberRow.chat_id == chat_id).values(next_digest_at=until)
    )


def acquire_lease(
    session: Session,
    name: str,
    owner: str,
    now: datetime,
    ttl: timedelta,
    *,
    take_from: Iterable[str] = (),
) -> bool:
    """Take or renew the lease `name` for `owner` until now + ttl. It is free when unheld or
    expired; `take_from` names holders known to be dead. One atomic UPDATE decides, so two
    processes racing for it cannot both win."""
    result = session.execute(
        update(LeaseRow)
        .where(
            LeaseRow.name == name,
            or_(
                LeaseRow.owner == owner,
                LeaseRow.expires_at <= now,
                LeaseRow.owner.in_(list(take_from)),
            ),
        )
        .values(owner=owner, expires_at=now + ttl)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(LeaseRow, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(LeaseRow(name=name, owner=owner, expires_at=now + ttl))
    except IntegrityError:
        return False  # another process created it first
    return True


def lease_holder(session: Session, name: str) -> LeaseRow | None:
    return session.get(LeaseRow, name, populate_existing=True)


def release_lease(session: Session, name: str, owner: str) -> None:
    session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner))


def set_state(session: Session, key: str, value: str, now: datetime) -> None:
    row = session.get(StateRow, key)
    if row is None:
        session.add(StateRow(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now
    session.flush()


def state(session: Session, key: str) -> StateRow | None:
    return session.get(StateRow, key, populate_existing=True)


def flood_wait_until(session: Session, now: datetime) -> datetime | None:
    """The end of a long flood wait Telegram imposed, while it lasts."""
    row = state(session, FLOOD_WAIT_UNTIL)
    until = datetime.fromisoformat(row.value) if row else None
    return until if until is not None and until > now else None
