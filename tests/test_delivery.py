"""The delivery engine against the local Bot API: pacing, and what each refusal leads to."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.delivery import FloodWait, Result, Sender
from bot.devserver import FakeBotApi
from bot.devserver.limits import Limit, RateLimits
from bot.limiter import Limiter
from bot.scheduler import make_sender
from tests.telegram_helpers import TOKEN, bot_api_spec

USER, OTHER, GROUP, SUPERGROUP = 1001, 1002, -2001, -1002001


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def _sends(limiter: Limiter, fake: FakeTime, count: int, answer: float = 0.0) -> list[float]:
    """When each of `count` sends (each to a chat of its own) starts, each answered `answer`
    seconds later."""
    starts = []
    for chat in range(count):
        async with limiter.message(10_000 + chat):
            starts.append(fake.now)
            fake.now += answer
    return starts


def _busiest_second(starts: list[float]) -> int:
    return max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts)


async def test_limiter_keeps_the_whole_bot_under_its_rate() -> None:
    fake = FakeTime()
    limiter = Limiter(30, fake.clock, fake.sleep)
    starts = await _sends(limiter, fake, 300)
    assert _busiest_second(starts) <= 30
    assert 300 / (starts[-1] - starts[0]) > 28  # and close to it
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 1 / 30 - 1e-9


async def test_slow_answers_never_let_more_than_the_rate_through() -> None:
    """Telegram counts a message somewhere between request and answer: with every send
    started a second after the answer of the one `rate` sends earlier, no second of
    Telegram's can hold more than `rate`, however the round trips vary."""
    fake = FakeTime()
    limiter = Limiter(30, fake.clock, fake.sleep)
    starts = await _sends(limiter, fake, 200, answer=0.08)
    answers = [s + 0.08 for s in starts]
    assert all(b >= a + 1.0 for a, b in zip(answers, starts[30:], strict=False))


async def test_a_held_up_loop_does_not_burst_afterwards() -> None:
    fake = FakeTime()
    limiter = Limiter(30, fake.clock, fake.sleep)
    await _sends(limiter, fake, 5)
    fake.now += 2.0  # the event loop was busy for two seconds
    starts = await _sends(limiter, fake, 30)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 1 / 30 - 1e-9


async def test_a_flood_wait_that_begins_while_a_send_waits_holds_it_too() -> None:
    fake = FakeTime()
    limiter = Limiter(1, fake.clock, fake.sleep)
    await _sends(limiter, fake, 1)

    floods = [10.0]

    async def sleep_then_flood(seconds: float) -> None:
        fake.now += seconds
        if floods:  # Telegram's 429 arrived for another send meanwhile
            limiter.pause(floods.pop())

    limiter.sleep = sleep_then_flood
    async with limiter.message(USER):
        pass
    assert fake.now >= 100.0 + 1.0 + 10.0


async def test_limiter_holds_every_send_during_a_flood_wait() -> None:
    fake = FakeTime()
    limiter = Limiter(30, fake.clock, fake.sleep)
    await _sends(limiter, fake, 1)
    limiter.pause(5.0)
    assert limiter.paused_for == pytest.approx(5.0)
    async with limiter.message(USER):
        pass
    assert fake.now >= 105.0


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi(bot_api_spec(), limits=RateLimits(overall=Limit(30, 1.0)))
    api.start()
    api.add_user(USER, "User")
    api.add_user(OTHER, "Other")
    api.add_chat(GROUP, "group", "Old group")
    try:
        yield api
        assert api.violations == []
        assert api.rejected == []
    finally:
        api.stop()


@pytest.fixture
async def sender(api: FakeBotApi) -> AsyncIterator[Sender]:
    settings = Settings(
        bot_token=SecretStr(TOKEN),
        bot_api_url=api.base_url.removesuffix("/bot"),
        telegram_timeout=0.3,
        sources=[],
    )
    sender = make_sender(settings)
    sender.backoff = 0.05
    try:
        yield sender
    finally:
        await sender.close()


async def test_a_429_pauses_the_bot_for_retry_after_then_goes_on(
    api: FakeBotApi, sender: Sender
) -> None:
    api.inject("sendMessage", retry_after=1)
    started = time.monotonic()
    assert await sender.send(USER, "hello") == (Result.SENT, USER)
    assert time.monotonic() - started >= 1.0
    assert [m.shown for m in api.sent(USER)] == ["hello"]
    assert sender.counters.throttled == 1
    assert sender.counters.sent == 1


async def test_a_very_long_flood_wait_stops_the_run_and_is_reported(
    api: FakeBotApi, sender: Sender
) -> None:
    reported: list[float] = []

    async def note(seconds: float) -> None:
        reported.append(seconds)

    sender.on_flood_wait = note
    api.inject("sendMessage", retry_after=7200)
    with pytest.raises(FloodWait):
        await sender.send(USER, "hello")
    assert reported == [7200.0]
    assert api.sent(USER) == []


async def test_server_errors_and_time_outs_are_retried_with_backoff(
    api: FakeBotApi, sender: Sender
) -> None:
    api.inject("sendMessage", times=2, status=502)
    api.inject("sendMessage", status=504, delay=0.6)  # longer than the 0.3 s time-out
    assert await sender.send(USER, "hello") == (Result.SENT, USER)
    assert [m.shown for m in api.sent(USER)] == ["hello"]
    assert sender.counters.retried == 3


async def test_the_senders_waits_go_by_its_limiters_clock(api: FakeBotApi, sender: Sender) -> None:
    """Backoff and a 429's pause on the limiter's clock: a fan-out runs on virtual time."""
    fake = FakeTime()
    timed = Sender(sender.bot, Limiter(30, fake.clock, fake.sleep), backoff=10.0)
    api.inject("sendMessage", times=2, status=502)
    api.inject("sendMessage", retry_after=30)
    started = time.monotonic()
    assert await timed.send(USER, "hello") == (Result.SENT, USER)
    assert time.monotonic() - started < 10.0  # 45 s and more on the real clock
    assert fake.now - 100.0 >= 5.0 + 10.0 + 30.0  # two backoffs (with jitter), then the pause
    assert timed.counters.retried == 2
    assert timed.counters.throttled == 1
    assert len(timed.counters.latencies) == 1


async def test_retries_are_bounded(api: FakeBotApi, sender: Sender) -> None:
    api.inject("sendMessage", times=sender.retries + 1, status=500)
    assert await sender.send(USER, "hello") == (Result.FAILED, USER)
    assert api.sent(USER) == []
    assert sender.counters.failed == 1


@pytest.mark.parametrize("flag", ["blocked", "deactivated"])
async def test_a_gone_chat_is_reported_not_retried(
    api: FakeBotApi, sender: Sender, flag: str
) -> None:
    setattr(api.chat(USER), flag, True)
    calls = len(api.calls)
    assert await sender.send(USER, "hello") == (Result.GONE, USER)
    assert len(api.calls) == calls + 1
    assert sender.counters.gone == 1


async def test_an_unknown_chat_is_gone(sender: Sender) -> None:
    assert await sender.send(-100999, "hello") == (Result.GONE, -100999)


async def test_a_migrated_group_is_followed(api: FakeBotApi, sender: Sender) -> None:
    moves: list[tuple[int, int]] = []

    async def moved(old: int, new: int) -> None:
        moves.append((old, new))

    sender.on_migrated = moved
    api.migrate_group(GROUP, SUPERGROUP, by=USER)
    assert await sender.send(GROUP, "hello") == (Result.SENT, SUPERGROUP)
    assert moves == [(GROUP, SUPERGROUP)]
    assert [m.shown for m in api.sent(SUPERGROUP)][-1] == "hello"


async def test_a_message_telegram_refuses_is_not_retried(api: FakeBotApi, sender: Sender) -> None:
    assert await sender.send(USER, "x" * 5000) == (Result.REFUSED, USER)
    api.rejected.clear()  # the stand-in noted the over-long message, as Telegram would refuse it
    assert sender.counters.refused == 1


async def test_at_most_unrecorded_messages_are_out_without_their_record(
    api: FakeBotApi, sender: Sender
) -> None:
    """However slow the recording, no more messages are out unrecorded than the Sender
    allows: all that a crash at that instant could make the next run repeat."""
    chats = list(range(5001, 5009))
    for chat in chats:
        api.add_user(chat, f"user {chat}")
    gated = Sender(sender.bot, Limiter(30), unrecorded=2)
    recorded = 0
    most = 0

    async def record() -> None:
        nonlocal recorded, most
        accepted = sum(len(api.sent(chat)) for chat in chats)
        most = max(most, accepted - recorded)
        await asyncio.sleep(0.3)  # a slow database
        recorded += 1

    results = await asyncio.gather(*(gated.send(c, "hello", on_sent=record) for c in chats))
    assert all(result is Result.SENT for result, _ in results)
    assert recorded == len(chats)
    assert most == 2
