"""PostgreSQL's session advisory locks, as bot/lease.py uses them to elect the digest leader."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text


def try_lock(connection: Connection, key: int) -> bool:
    """Take the lock on this connection unless another session holds it."""
    locked = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
    return bool(locked.scalar())


def unlock(connection: Connection, key: int) -> None:
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def holder(engine: Engine, key: int) -> str | None:
    """The server backend that holds the lock in this database, for people."""
    query = text(
        "SELECT a.pid, a.client_addr, a.application_name FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
        "AND l.granted AND (l.classid::bigint << 32 | l.objid::bigint) = :key "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with engine.connect() as connection:
        row = connection.execute(query, {"key": key}).first()
    return f"PostgreSQL backend {row.pid} ({row.client_addr or 'local'})" if row else None
