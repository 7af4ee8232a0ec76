"""`paperboy digest --now` as a real process, killed with SIGKILL in the middle of its fan-out
and started again: every chat ends up with all its papers, none lost, and a crash repeats at
most the one message a chat had in flight. Two processes started at once never both deliver."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.devserver import FakeBotApi
from bot.devserver.limits import Limit, RateLimits
from storage import subscriptions
from tests.digest_helpers import expected, papers_in, populate, received
from tests.telegram_helpers import TOKEN

# About 420 messages: three kills at about 80 messages each leave the last run half of them.
CHATS = list(range(20_000, 20_250))
LIMIT = 50
PAPERBOY = str(Path(sys.executable).with_name("paperboy"))


def _api() -> FakeBotApi:
    api = FakeBotApi(limits=RateLimits(overall=Limit(100, 1.0)), latency=0.02)
    api.start()
    for chat in CHATS:
        api.add_user(chat, f"user {chat}")
    return api


def _environment(api: FakeBotApi, db_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PAPERBOY_DATABASE_URL": db_url,
        "PAPERBOY_BOT_TOKEN": TOKEN,
        "PAPERBOY_BOT_API_URL": api.base_url.removesuffix("/bot"),
        "PAPERBOY_SOURCES": "",
        # No sentence model: no chat here rated a paper, and making every paper's vector
        # at start-up would only slow the test down.
        "PAPERBOY_MODEL_DIR": "/nonexistent/paperboy-model",
        "PAPERBOY_RATE_LIMIT": "80",
        "PAPERBOY_PAID_BROADCASTS": "true",
        "PAPERBOY_DIGEST_MAX": str(LIMIT),
        "PAPERBOY_LOG_LEVEL": "WARNING",
    }


def _digest_now(environment: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PAPERBOY, "digest", "--now"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _accepted(api: FakeBotApi) -> int:
    return sum(1 for call in api.calls if call.method == "sendMessage" and call.error is None)


def _repeats(api: FakeBotApi, chat: int) -> int:
    """Messages that carried only papers the chat had been sent already."""
    seen: set[str] = set()
    repeats = 0
    for message in api.sent(chat):
        papers = papers_in(message.text)
        if papers and papers <= seen:
            repeats += 1
        seen |= papers
    return repeats


def test_a_killed_digest_run_resumes_without_losing_a_paper(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    populate(sessions, CHATS)
    wanted = expected(sessions, CHATS, LIMIT)
    total = sum(1 for chat in CHATS if wanted[chat])
    api = _api()
    environment = _environment(api, db_url)
    rng = random.Random(11)
    kills = 0
    try:
        # Kill three runs at random points of the fan-out, each time after some progress.
        for _ in range(3):
            start = _accepted(api)
            target = start + rng.randint(20, 90)
            process = _digest_now(environment)
            deadline = time.monotonic() + 60
            while _accepted(api) < target and process.poll() is None:
                assert time.monotonic() < deadline, "the run made no progress"
                time.sleep(0.005)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()
        final = _digest_now(environment)
        output, _ = final.communicate(timeout=120)
    finally:
        api.stop()
    assert final.returncode == 0, output
    assert kills == 3
    assert _accepted(api) >= total
    for chat in CHATS:
        got = received(api, chat)
        assert set(got) == wanted[chat], f"chat {chat}: lost or extra papers"
        # At most one repeated message per crash, never more.
        assert _repeats(api, chat) <= kills
    repeated = sum(_repeats(api, chat) for chat in CHATS)
    print(f"{kills} kills, {repeated} repeated messages over {len(CHATS)} chats")
    with sessions() as session:
        for chat in CHATS:
            row = subscriptions.find(session, chat)
            assert row is not None
            assert subscriptions.delivered_count(session, row.id) == len(wanted[chat])


SLOW_CHATS = list(range(21_000, 21_150))
KILLS = 6
# Repeated messages allowed per kill: the floor is what is in flight at that instant (rate x
# round trip, about 1.5 here); one more for a loaded machine (2 CPUs shared by many jobs).
REPEATS_PER_KILL = 3


def test_kills_during_a_slow_faulty_fan_out_repeat_almost_nothing(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    """Telegram's limits, 50 ms round trips, 3% of sends failing with a 500: each SIGKILL
    repeats about the messages in flight at that instant, and loses none."""
    populate(sessions, SLOW_CHATS)
    wanted = expected(sessions, SLOW_CHATS, LIMIT)
    limits = RateLimits(overall=Limit(30, 1.0), private_chat=Limit(1, 1.0))
    api = FakeBotApi(limits=limits, latency=0.05)
    api.start()
    for chat in SLOW_CHATS:
        api.add_user(chat, f"user {chat}")
    environment = {**_environment(api, db_url), "PAPERBOY_RATE_LIMIT": "25"}
    del environment["PAPERBOY_PAID_BROADCASTS"]
    rng = random.Random(5)
    next_fault = rng.randint(20, 45)
    try:
        for _ in range(KILLS):
            # The whole run is about 270 messages: the six kills fall within its first two
            # thirds, so a run that repeats less than usual still has messages left to kill.
            target = _accepted(api) + rng.randint(10, 35)
            process = _digest_now(environment)
            deadline = time.monotonic() + 60
            while _accepted(api) < target and process.poll() is None:
                assert time.monotonic() < deadline, "the run made no progress"
                if _accepted(api) >= next_fault:  # about 3% of the sends fail
                    api.inject("sendMessage", status=500)
                    next_fault += rng.randint(20, 45)
                time.sleep(0.005)
            assert process.poll() is None, "the run ended before it could be killed"
            process.send_signal(signal.SIGKILL)
            process.wait()
        final = _digest_now(environment)
        output, _ = final.communicate(timeout=180)
    finally:
        api.stop()
    assert final.returncode == 0, output
    for chat in SLOW_CHATS:
        assert set(received(api, chat)) == wanted[chat], f"chat {chat}: lost or extra papers"
    repeated = sum(_repeats(api, chat) for chat in SLOW_CHATS)
    print(f"{KILLS} kills, {repeated} repeated messages ({repeated / KILLS:.1f} per kill)")
    assert repeated <= REPEATS_PER_KILL * KILLS


def test_two_processes_at_once_deliver_each_digest_once(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    populate(sessions, CHATS)
    wanted = expected(sessions, CHATS, LIMIT)
    api = _api()
    environment = _environment(api, db_url)
    try:
        first, second = _digest_now(environment), _digest_now(environment)
        outputs = [p.communicate(timeout=120)[0] for p in (first, second)]
    finally:
        api.stop()
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert any("another process delivers digests" in output for output in outputs), outputs
    for chat in CHATS:
        got = received(api, chat)
        assert set(got) == wanted[chat]
        assert all(count == 1 for count in got.values()), f"chat {chat} got a paper twice"


def test_two_bots_on_one_database_send_each_due_digest_once(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    """Two `paperboy run` processes (a restart overlapping the old one, or a replica) with
    digests due: one of them leads and delivers; no chat hears anything twice."""
    chats = CHATS[:120]
    populate(sessions, chats)
    with sessions.begin() as session:
        for chat in chats:
            row = subscriptions.find(session, chat)
            assert row is not None
            row.next_digest_at = datetime.now(UTC) - timedelta(hours=1)
    wanted = expected(sessions, chats, LIMIT)
    api = _api()
    environment = {**_environment(api, db_url), "PAPERBOY_LOG_LEVEL": "INFO"}
    bots = [
        subprocess.Popen(
            [PAPERBOY, "run"], env=environment, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while any(set(received(api, chat)) != wanted[chat] for chat in chats):
            assert time.monotonic() < deadline, "the digests did not all arrive"
            assert all(bot.poll() is None for bot in bots), "a bot stopped"
            time.sleep(0.2)
        time.sleep(3)  # time for a wrongly repeated digest to show up
    finally:
        for bot in bots:
            bot.send_signal(signal.SIGINT)
        outputs = [bot.communicate(timeout=60)[0] for bot in bots]
        api.stop()
    for chat in chats:
        assert all(count == 1 for count in received(api, chat).values()), chat
    leaders = [output for output in outputs if "delivering 120 due digests" in output]
    assert len(leaders) == 1, outputs
