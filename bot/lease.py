"""The lease that lets one process at a time deliver digests, however many run on one database
(a restart overlapping the old process, a second replica, `paperboy digest --now` beside the
bot). A holder that crashed is recognised at once on the same machine, elsewhere when its
lease runs out."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage import schedule

DIGESTS = "digests"
TTL = timedelta(seconds=60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


class Lease:
    def __init__(self, sessions: sessionmaker[Session], name: str = DIGESTS) -> None:
        self._sessions = sessions
        self.name = name
        self._host = socket.gethostname()
        self.owner = f"{self._host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def _dead(self, holder: str) -> bool:
        """A holder on this machine whose process is gone, or an earlier life of this pid
        (a container restarted with the same pid and host name)."""
        host, _, rest = holder.partition(":")
        pid_text, _, _ = rest.partition(":")
        if host != self._host or not pid_text.isdigit():
            return False
        pid = int(pid_text)
        return pid == os.getpid() or not _alive(pid)

    def acquire(self, now: datetime) -> bool:
        """Take or renew the lease; False while another live process holds it."""
        with self._sessions.begin() as session:
            holder = schedule.lease_holder(session, self.name)
            dead = (
                [holder.owner]
                if holder and holder.owner != self.owner and self._dead(holder.owner)
                else []
            )
            return schedule.acquire_lease(session, self.name, self.owner, now, TTL, take_from=dead)

    def holder(self) -> str | None:
        with self._sessions() as session:
            row = schedule.lease_holder(session, self.name)
            return row.owner if row else None

    def release(self) -> None:
        with self._sessions.begin() as session:
            schedule.release_lease(session, self.name, self.owner)
