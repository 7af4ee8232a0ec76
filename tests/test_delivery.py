"""The delivery engine against the local Bot API: pacing, and what each refusal leads to."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.delivery import MARGIN, FloodWait, Pacer, Result, Sender
from bot.devserver import FakeBotApi
from bot.devserver.limits import Limit, RateLimits
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


async def test_pacer_spaces_sends_for_the_whole_bot() -> None:
    fake = FakeTime()
    pacer = Pacer(30, fake.clock, fake.sleep)
    starts = []
    for _ in range(91):
        await pacer.slot()
        starts.append(fake.now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) == pytest.approx((1 + MARGIN) / 30)
    # In no one-second window are there more than 30 sends.
    assert max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts) <= 30


async def test_pacer_holds_every_send_during_a_flood_wait() -> None:
    fake = FakeTime()
    pacer = Pacer(30, fake.clock, fake.sleep)
    await pacer.slot()
    pacer.pause(5.0)
    assert pacer.paused_for == pytest.approx(5.0)
    await pacer.slot()
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
        await sender.bot.shutdown()


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
