"""A digest run to 1,000 chats through the local Bot API while it injects 429s, server errors,
time-outs, blocked users, kicked bots and a migrated group: each chat gets exactly its
matching papers, once; gone chats are deactivated; nothing is repeated on a second run."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot import service
from bot.config import Settings
from bot.devserver import FakeBotApi
from bot.devserver.limits import Limit, RateLimits
from bot.digests import Digests, Outcome
from bot.limiter import Limiter
from bot.scheduler import make_sender
from storage import subscriptions
from tests.clocks import FastTime
from tests.digest_helpers import NOW, expected, populate, received
from tests.telegram_helpers import TOKEN, bot_api_spec

PRIVATE = list(range(10_000, 10_950))
GROUPS = list(range(-3_050, -3_000))
CHATS = PRIVATE + GROUPS
OWNER = 99
BLOCKED = PRIVATE[::97]
DEACTIVATED = [PRIVATE[5]]
KICKED = GROUPS[:2]
MIGRATED = {GROUPS[10]: -1_009_000, GROUPS[11]: -1_009_001}
LIMIT = 50
# The stand-in's limits and the bot's pace, waits and backoff on one clock this much faster
# than real time: each chat's messages are a (virtual) second apart, and that is most of it.
SPEED = 20
# The run's pace, retries, 429s, gone and migrated chats do not depend on the database:
# SQLite only (tests/conftest.py). On PostgreSQL the same Digests.run, its workers and their
# concurrent writes run in test_crash (real processes, injected 500s), and a migrated group
# and gone chats in test_bot.
pytestmark = pytest.mark.backends("sqlite")


async def test_fan_out_to_a_thousand_chats_with_faults(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    populate(sessions, CHATS)
    wanted = expected(sessions, CHATS, LIMIT)
    # Telegram's per-chat limits, and a paid-broadcast bot's higher overall one.
    fast = FastTime(SPEED)
    api = FakeBotApi(bot_api_spec(), limits=RateLimits(overall=Limit(400, 1.0)), clock=fast.clock)
    api.start()
    api.add_user(OWNER, "Owner")
    for chat in PRIVATE:
        api.add_user(chat, f"user {chat}")
    for chat in GROUPS:
        api.add_chat(chat, "group", f"group {chat}", members={OWNER: "creator"})
    for chat in BLOCKED:
        api.chat(chat).blocked = True
    for chat in DEACTIVATED:
        api.chat(chat).deactivated = True
    for chat in KICKED:
        api.chat(chat).kicked = True
    for old, new in MIGRATED.items():
        api.migrate_group(old, new, by=OWNER)
    api.inject("sendMessage", times=3, retry_after=1)
    api.inject("sendMessage", times=20, status=500)
    api.inject("sendMessage", times=10, status=502)
    # Real seconds: the client times out first (its time-out is httpx's, in real time).
    api.inject("sendMessage", times=5, status=504, delay=2.5)
    settings = Settings(
        database_url=db_url,
        bot_token=SecretStr(TOKEN),
        bot_api_url=api.base_url.removesuffix("/bot"),
        rate_limit=300,
        paid_broadcasts=True,
        # Long enough that a busy machine does not time out (and resend) real answers.
        telegram_timeout=2.0,
        sources=[],
    )
    sender = dataclasses.replace(
        make_sender(settings), limiter=Limiter(settings.rate_limit, fast.clock, fast.sleep)
    )
    digests = Digests(sessions, sender, LIMIT, clock=lambda: NOW)
    digests.sender.backoff = 0.05
    try:
        report = await digests.run(CHATS)
        with sessions() as session:
            again = service.pending_today(session, NOW)
        second = await digests.run(CHATS)
    finally:
        await digests.sender.close()
        api.stop()

    gone = set(BLOCKED) | set(DEACTIVATED) | set(KICKED)
    assert report.outcomes == {
        Outcome.DELIVERED.value: len(CHATS) - len(gone),
        Outcome.GONE.value: len(gone),
    }
    for chat in CHATS:
        got = received(api, MIGRATED.get(chat, chat))
        if chat in gone:
            assert not got, chat
            continue
        assert set(got) == wanted[chat], chat
        assert max(got.values()) == 1, f"chat {chat} got a paper twice"
    with sessions() as session:
        for chat in CHATS:
            row = subscriptions.find(session, MIGRATED.get(chat, chat))
            assert row is not None
            assert row.active == (chat not in gone)
            sent = 0 if chat in gone else len(wanted[chat])
            assert subscriptions.delivered_count(session, row.id) == sent
    assert report.throttled == 3
    assert api.throttled == 3
    assert report.retried >= 35
    # Everyone had today's digest; a second run of the day sends nothing again.
    assert again == []
    assert second.messages == 0
    assert second.outcomes == {
        Outcome.DONE.value: len(CHATS) - len(gone) - len(MIGRATED),
        Outcome.GONE.value: len(gone),  # tried once more: they may have come back
        Outcome.NO_SUBSCRIPTION.value: len(MIGRATED),  # they live on under the new ids
    }
    assert api.violations == []
    assert api.rejected == []
