"""Leadership: one process at a time delivers digests, however many run on one database (a
restart overlapping the old process, a second replica, `paperboy digest --now` beside the
bot). On PostgreSQL it is an advisory lock held by a connection of the leader, which the
server drops the moment that process dies; on SQLite a lease row, which a holder that crashed
on the same machine loses at once and one elsewhere when it runs out.

Whoever becomes the leader drops the chat claims of processes it knows to be dead
(storage/schedule.py), so a crashed leader's half-done chats are resumed at once; claims of
processes elsewhere run out."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from storage import db, schedule
from storage import lease as advisory

DIGESTS = "digests"
TTL = timedelta(seconds=60)
# pg_try_advisory_lock's key for the digest leader: "paperboy" in ASCII.
ADVISORY_KEY = 0x7061706572626F79


def _namespace() -> str:
    """Where pids mean something: the machine's boot, the host name and the pid namespace
    (two containers may share a host name, and both run as pid 1)."""
    try:
        space = os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        space = boot = "-"
    return f"{socket.gethostname()}/{boot}/{space}"


HOST = _namespace()
# This process, as it signs leases and claims: "host/pidns:pid:random".
PROCESS = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leadership(Protocol):
    owner: str

    def acquire(self, now: datetime) -> bool:
        """Become or stay the leader; False while another live process is."""
        ...

    def holder(self) -> str | None: ...

    def release(self) -> None: ...


def leadership(sessions: sessionmaker[Session]) -> Leadership:
    bind = sessions.kw["bind"]
    if bind.dialect.name == "postgresql":
        return AdvisoryLock(sessions)
    return Lease(sessions)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


def is_dead(owner: str) -> bool:
    """An owner in this pid namespace whose process is gone, or an earlier life of this pid
    (a process restarted with the same pid in the same namespace)."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != HOST or not parts[1].isdigit() or owner == PROCESS:
        return False
    pid_text = parts[1]
    pid = int(pid_text)
    return pid == os.getpid() or not _alive(pid)


def _take_over(sessions: sessionmaker[Session]) -> None:
    """Drop the chat claims of dead processes, so that their half-done chats go on at once."""
    with sessions.begin() as session:
        dead = [owner for owner in schedule.claim_owners(session) if is_dead(owner)]
        schedule.release_claims(session, dead)


class Lease:
    """A lease row, renewed while held (SQLite, or any database)."""

    def __init__(self, sessions: sessionmaker[Session], name: str = DIGESTS) -> None:
        self._sessions = sessions
        self.name = name
        self.owner = PROCESS
        self._held = False

    def acquire(self, now: datetime) -> bool:
        with self._sessions.begin() as session:
            holder = schedule.lease_holder(session, self.name)
            others = holder is not None and holder.owner != self.owner
            dead = [holder.owner] if holder and others and is_dead(holder.owner) else []
            held = schedule.acquire_lease(session, self.name, self.owner, now, TTL, take_from=dead)
        if held and not self._held:
            _take_over(self._sessions)
        self._held = held
        return held

    def holder(self) -> str | None:
        with self._sessions() as session:
            row = schedule.lease_holder(session, self.name)
            return row.owner if row else None

    def release(self) -> None:
        with self._sessions.begin() as session:
            schedule.release_lease(session, self.name, self.owner)
        self._held = False


class AdvisoryLock:
    """PostgreSQL's session advisory lock, on a connection kept for as long as it is held."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._engine = sessions.kw["bind"]
        self._sessions = sessions
        self.owner = PROCESS
        self._connection: Connection | None = None

    def acquire(self, now: datetime) -> bool:
        if self._connection is not None:
            try:
                db.ping(self._connection)
                return True
            except DBAPIError:
                self._drop()  # the connection, and with it the lock, is gone
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if not advisory.try_lock(connection, ADVISORY_KEY):
            connection.close()
            return False
        self._connection = connection
        _take_over(self._sessions)
        return True

    def holder(self) -> str | None:
        return advisory.holder(self._engine, ADVISORY_KEY)

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.close()
            self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):  # else gone with its connection anyway
                advisory.unlock(self._connection, ADVISORY_KEY)
            self._drop()
