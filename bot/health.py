"""`paperboy health`: is this installation working? For a container's HEALTHCHECK and for
monitoring. Plain checks over the database; each problem is one line saying what is wrong."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from storage import db, schedule

# The running bot beats every 30 seconds (bot/scheduler.py); this much silence is trouble.
HEARTBEAT_LIMIT = timedelta(minutes=3)
# Ingest runs every PAPERBOY_INGEST_INTERVAL; missing this many in a row is trouble.
MISSED_INGESTS = 3


def _age(value: str, now: datetime) -> timedelta:
    return now - datetime.fromisoformat(value)


def problems(engine: Engine, settings: Settings, now: datetime) -> tuple[list[str], list[str]]:
    """What is wrong, and what is fine, as lines for people."""
    try:
        db.ping(engine)
        revision = db.current_revision(engine)
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())  # drivers: lines
        return [f"the database does not answer: {reason}".strip()], []
    if revision != (head := db.head_revision()):
        return [f"the database schema is at {revision}, not {head}: run paperboy db upgrade"], []
    wrong, fine = [], [f"database answers (schema {revision})"]
    with db.make_sessions(engine)() as session:
        beat = schedule.state(session, schedule.HEARTBEAT)
        ingest = schedule.state(session, schedule.LAST_INGEST)
        flood = schedule.flood_wait_until(session, now)
    silent = _age(beat.value, now) if beat is not None else None
    if silent is None:
        wrong.append("paperboy run has not started yet (no heartbeat)")
    elif silent > HEARTBEAT_LIMIT:
        wrong.append(f"no heartbeat from paperboy run for {silent.total_seconds():.0f} s")
    else:
        fine.append(f"bot alive (heartbeat {silent.total_seconds():.0f} s ago)")
    interval = timedelta(seconds=settings.ingest_interval)
    if settings.sources and silent is not None:
        if ingest is None:
            if silent > interval:  # not merely starting up
                wrong.append("no scheduled ingest has run yet")
        elif (since := _age(ingest.value, now)) > interval * MISSED_INGESTS:
            wrong.append(f"the last scheduled ingest was {since.total_seconds() / 3600:.1f} h ago")
        else:
            fine.append(f"last ingest {since.total_seconds() / 60:.0f} min ago")
    if flood is not None:
        wrong.append(f"Telegram's flood wait stops all digests until {flood:%Y-%m-%dT%H:%M} UTC")
    return wrong, fine
