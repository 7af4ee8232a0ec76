"""Leadership and claims: one process leads, a chat is claimed by one owner at a time, and
what a dead process held is taken over."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bot import lease
from storage import db, schedule, subscriptions
from tests.conftest import new_postgres_database
from tests.postgres import Cluster

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
TTL = timedelta(minutes=2)


def _dead_owner() -> str:
    """The signature a process of this machine had, which has exited since."""
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{lease.HOST}:{child.pid}:0000"


def test_a_chat_is_claimed_by_one_owner_until_released_or_expired(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        subscriptions.enroll(session, 7, "private", NOW)
    with sessions.begin() as session:
        assert schedule.claim(session, 7, "one", NOW, TTL)
        assert schedule.claim(session, 7, "one", NOW, TTL)  # its own claim, renewed
        assert not schedule.claim(session, 7, "two", NOW, TTL)
        assert schedule.claim(session, 7, "two", NOW + TTL, TTL)  # the first ran out
        schedule.release_claim(session, 7, "two")
        assert schedule.claim(session, 7, "one", NOW + TTL, TTL)
        assert schedule.claim_owners(session) == {"one"}
        schedule.release_claims(session, ["one"])
        assert schedule.claim_owners(session) == set()
        assert not schedule.claim(session, 8, "one", NOW, TTL)  # no such chat


def test_only_processes_known_to_be_dead_are_dead() -> None:
    assert lease.is_dead(_dead_owner())
    assert not lease.is_dead(lease.PROCESS)
    assert not lease.is_dead(f"{lease.HOST}:1:0000")  # alive (init)
    assert not lease.is_dead("elsewhere/boot/ns:12345:0000")  # another machine: unknown


def test_a_new_leader_takes_over_only_the_claims_of_the_dead(
    sessions: sessionmaker[Session],
) -> None:
    dead, alive = _dead_owner(), "elsewhere/boot/ns:1:0000"
    with sessions.begin() as session:
        for chat in (1, 2):
            subscriptions.enroll(session, chat, "private", NOW)
        assert schedule.claim(session, 1, dead, NOW, TTL)
        assert schedule.claim(session, 2, alive, NOW, TTL)
    leader = lease.leadership(sessions)
    try:
        assert leader.acquire(datetime.now(UTC))
        with sessions() as session:
            assert schedule.claim_owners(session) == {alive}
    finally:
        leader.release()


def test_one_leader_at_a_time(sessions: sessionmaker[Session]) -> None:
    first, second = lease.leadership(sessions), lease.leadership(sessions)
    second.owner = "elsewhere/boot/ns:1:0000"  # another machine's process
    now = datetime.now(UTC)
    try:
        assert first.acquire(now)
        assert first.acquire(now)  # renewed
        assert not second.acquire(now)
        assert first.holder() is not None
        first.release()
        assert second.acquire(now)
    finally:
        first.release()
        second.release()


def test_the_advisory_lock_goes_when_its_connection_dies(
    postgres: Cluster, postgres_template: str
) -> None:
    engine = db.make_engine(new_postgres_database(postgres, postgres_template))
    sessions = db.make_sessions(engine)
    first, second = lease.AdvisoryLock(sessions), lease.AdvisoryLock(sessions)
    try:
        assert first.acquire(NOW)
        assert not second.acquire(NOW)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            # The leader's server process ends, as when its machine or network goes.
            # Waited for (up to 10 s): the signal alone returns before the process has gone
            # and let go of its locks, which a busy machine showed.
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                )
            )
        assert second.acquire(NOW)
        assert not first.acquire(NOW)  # it notices that it lost the lock
    finally:
        first.release()
        second.release()
        engine.dispose()
