"""One Telegram budget for the whole bot: replies and digests share one Limiter (replies
first, per-chat waits holding up no other chat, 429s pausing everything), and one retry
policy (bot/retry.py) for fetching and sending. The Limiter's own tests run on virtual time;
the broadcast against the stand-in in real time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from telegram.error import RetryAfter

from bot.config import Settings
from bot.devserver import FakeBotApi
from bot.devserver.limits import RateLimits
from bot.digests import Accepted, Digests, Recorder
from bot.limiter import Limiter, Replies
from bot.retry import Retry
from storage import subscriptions
from tests.clocks import VirtualTime
from tests.digest_helpers import NOW, populate
from tests.telegram_helpers import TOKEN, bot_api_spec, running_bot

BROADCAST = list(range(30_000, 30_240))
USERS = [101, 102, 103, 104, 105]


def test_retry_backs_off_with_jitter_and_gives_up() -> None:
    retry = Retry(retries=3, backoff=1.0)
    waits = [retry.delay(failures) for failures in (1, 2, 3, 4)]
    assert waits[3] is None  # three retries, then no more
    first, second, third = (wait or 0.0 for wait in waits[:3])
    assert 0.5 <= first <= 1.5
    assert 1.0 <= second <= 3.0
    assert 2.0 <= third <= 6.0


def test_retry_honours_the_servers_wait_within_its_budget() -> None:
    retry = Retry(retries=5, backoff=1.0, budget=30.0)
    assert retry.delay(1, retry_after=7.0) == 7.0
    assert retry.delay(1, retry_after=7.0, elapsed=25.0) is None  # past the budget
    capped = Retry(retries=5, backoff=100.0, max_delay=2.0).delay(3)
    assert capped is not None
    assert 1.0 <= capped <= 3.0  # 2 s at most, then the jitter


async def test_a_reply_takes_the_next_slot_ahead_of_queued_digests() -> None:
    virtual = VirtualTime()
    limiter = Limiter(10, virtual.clock, virtual.sleep)  # a slot every 0.1 s
    order: list[str] = []

    async def send(chat: int, label: str, urgent: bool) -> None:
        async with limiter.message(chat, urgent=urgent):
            order.append(label)

    digests = [asyncio.create_task(send(1000 + n, f"digest {n}", False)) for n in range(10)]
    await virtual.sleep(0.05)  # the digests are queued
    await send(1, "reply", True)
    await asyncio.gather(*digests)
    assert order.index("reply") <= 2, order


async def test_a_chat_waiting_for_its_own_limit_holds_up_no_other() -> None:
    virtual = VirtualTime()
    limiter = Limiter(50, virtual.clock, virtual.sleep)
    order: list[str] = []

    async def send(chat: int, label: str) -> None:
        async with limiter.message(chat):
            order.append(label)

    first = asyncio.create_task(send(1, "first to 1"))
    second = asyncio.create_task(send(1, "second to 1"))  # a second later: 1/s per chat
    await virtual.sleep(0.05)
    others = [asyncio.create_task(send(2 + n, f"to {2 + n}")) for n in range(5)]
    await asyncio.gather(first, second, *others)
    assert order[0] == "first to 1"
    assert order[-1] == "second to 1", order


async def test_replies_pass_other_requests_and_wait_out_a_429() -> None:
    virtual = VirtualTime()
    limiter = Limiter(30, virtual.clock, virtual.sleep)
    replies = Replies(limiter)
    calls: list[str] = []

    async def answer(endpoint: str) -> dict[str, Any]:
        calls.append(endpoint)
        if endpoint == "sendMessage" and calls.count("sendMessage") == 1:
            raise RetryAfter(1)
        return {"ok": True}

    async def request(endpoint: str) -> object:
        return await replies.process_request(
            answer, (endpoint,), {}, endpoint, {"chat_id": 7}, None
        )

    started = virtual.clock()
    assert await request("sendMessage") == {"ok": True}
    assert virtual.clock() - started >= 1.0  # waited out the pause Telegram asked for
    limiter.pause(100.0)
    # Not a message: answered at once, however long the messages wait.
    paused = virtual.clock()
    assert await asyncio.wait_for(request("answerCallbackQuery"), 1.0) == {"ok": True}
    assert virtual.clock() == paused
    assert calls == ["sendMessage", "sendMessage", "answerCallbackQuery"]


async def test_a_429_to_one_chats_answer_holds_up_no_other_chat() -> None:
    """A user's burst of commands got a 429 in their chat: their next answer waits it out,
    another user's answer goes at once (before, the pause held up the whole bot)."""
    virtual = VirtualTime()
    limiter = Limiter(30, virtual.clock, virtual.sleep)
    replies = Replies(limiter)
    refused = False

    async def answer(chat_id: int) -> dict[str, Any]:
        nonlocal refused
        if chat_id == 7 and not refused:
            refused = True
            raise RetryAfter(2)
        return {"ok": True}

    async def reply(chat_id: int) -> object:
        return await replies.process_request(
            answer, (chat_id,), {}, "sendMessage", {"chat_id": chat_id}, None
        )

    flooding = asyncio.create_task(reply(7))
    await virtual.sleep(0.05)  # chat 7 got its 429 and waits
    started = virtual.clock()
    assert await reply(8) == {"ok": True}
    assert virtual.clock() - started < 1.0
    assert not flooding.done()
    assert await flooding == {"ok": True}


@pytest.mark.backends("sqlite")  # no database logic of its own
async def test_commands_are_answered_within_seconds_during_a_broadcast(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    """A broadcast at Telegram's full 30 messages a second, and users sending commands
    meanwhile: each is answered within a second or two, and the two together never go over
    the budget (the stand-in answers 429 to a 31st message within any second)."""
    populate(sessions, BROADCAST)
    api = FakeBotApi(bot_api_spec(), limits=RateLimits(), latency=0.02)  # Telegram's limits
    api.start()
    for chat in [*USERS, *BROADCAST]:
        api.add_user(chat, f"user {chat}")
    settings = Settings(
        database_url=db_url,
        bot_token=SecretStr(TOKEN),
        bot_api_url=api.base_url.removesuffix("/bot"),
        rate_limit=30,
        digest_max=3,
        telegram_timeout=5.0,
        sources=[],
    )
    async with running_bot(api, settings, sessions) as app:
        digests: Digests = app.bot_data["digests"]
        broadcast = asyncio.create_task(digests.run(BROADCAST))
        waits = []
        for user in USERS:
            await asyncio.sleep(0.7)
            sent = time.monotonic()
            api.user_sends(user, "/help")
            while not api.sent(user):
                assert time.monotonic() - sent < 10, "no answer"
                await asyncio.sleep(0.01)
            waits.append(time.monotonic() - sent)
        assert not broadcast.done(), "the broadcast should still be going"
        report = await broadcast
    print(f"reply waits during the broadcast: {', '.join(f'{w:.2f}' for w in waits)} s")
    assert max(waits) < 3.0, waits  # about a second expected; generous for a loaded machine
    assert report.messages >= len(BROADCAST)
    assert report.throttled == 0
    assert api.throttled == 0


@pytest.mark.parametrize("urgent", [False, True])
async def test_429_pauses_every_lane(urgent: bool) -> None:
    virtual = VirtualTime()
    limiter = Limiter(30, virtual.clock, virtual.sleep)
    limiter.pause(0.5)
    started = virtual.clock()
    async with limiter.message(5, urgent=urgent):
        pass
    assert virtual.clock() - started >= 0.5


async def test_a_private_chats_reply_is_not_held_up_by_its_digest() -> None:
    """In a private chat the digest's messages are a second apart; an answer to a command
    in between goes at once (Telegram tolerates the short burst; the user is waiting)."""
    virtual = VirtualTime()
    limiter = Limiter(30, virtual.clock, virtual.sleep)
    async with limiter.message(9):
        pass
    started = virtual.clock()
    async with limiter.message(9, urgent=True):
        answered = virtual.clock() - started
    async with limiter.message(9):
        second = virtual.clock() - started
    assert answered < 0.5
    assert second >= 0.9  # a second after the first digest message (from its answer)


async def test_accepted_messages_are_recorded_together_and_a_bad_one_fails_alone(
    sessions: sessionmaker[Session],
) -> None:
    populate(sessions, [5, 6])
    with sessions() as session:
        rows = [subscriptions.find(session, chat) for chat in (5, 6)]
        paper = subscriptions.newest_paper_id(session)
    assert paper is not None
    ids = [row.id for row in rows if row is not None]
    recorder = Recorder(sessions)
    results = await asyncio.gather(
        recorder.record(Accepted(ids[0], [paper], NOW)),
        recorder.record(Accepted(-1, [paper], NOW)),  # no such subscriber
        recorder.record(Accepted(ids[1], [paper], NOW)),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], Exception)
    assert results[2] is None
    with sessions() as session:
        assert [subscriptions.delivered_count(session, i) for i in ids] == [1, 1]
