"""Sending to Telegram at its limits: one pace for the whole bot, a pace per chat, and what
to do with each kind of refusal. No database here: callers say what a result means."""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import random
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot import metrics
from bot.logs import fields

log = logging.getLogger(__name__)

# Telegram's limits: one message a second to a private chat, twenty a minute to a group.
PRIVATE_INTERVAL = 1.0
GROUP_INTERVAL = 3.0
# A chat's own spacing is stretched by this much, so that jitter never adds up to a 429.
MARGIN = 0.04
CHAT_GONE = (
    "blocked",
    "deactivated",
    "kicked",
    "chat not found",
    "not a member",
    "not enough rights",
    "have no rights",
)
# The forum topic a subscription was made in was deleted: the chat itself is still there.
THREAD_GONE = "thread not found"


def chat_is_gone(error: TelegramError) -> bool:
    """Telegram says the chat is no longer reachable: blocked, deleted, kicked, or unknown."""
    text = str(error).lower()
    return isinstance(error, Forbidden) or (
        isinstance(error, BadRequest) and any(reason in text for reason in CHAT_GONE)
    )


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB warns about the int form of the attribute; either form says the same.
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Pacer:
    """The bot's sending pace: send slots 1/rate seconds apart, granted one at a time and
    only when due (a busy event loop cannot cause a burst afterwards); never more than `rate`
    messages in flight or answered within the last second, so that however the requests
    bunch up on the way, Telegram never counts more than `rate` in one second; and every
    send held back while a flood wait lasts. Each `slot()` is paired with a `done()`."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / per_second
        self.capacity = max(1, math.floor(per_second))
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._next = 0.0
        self._paused_until = 0.0
        self._in_flight = 0
        self._answered: deque[float] = deque()

    def _window_wait(self, now: float) -> float:
        while self._answered and self._answered[0] <= now - 1.0:
            self._answered.popleft()
        if self._in_flight + len(self._answered) < self.capacity:
            return 0.0
        # Full: until the oldest answer leaves the window (or, all in flight, a moment).
        return self._answered[0] + 1.0 - now if self._answered else self.interval

    async def slot(self) -> None:
        async with self._lock:  # one waiter at a time, first come first served
            while True:
                now = self._clock()
                wait = max(self._next - now, self._paused_until - now, self._window_wait(now))
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._next = now + self.interval
            self._in_flight += 1

    def done(self) -> None:
        """The send of the last granted slot was answered (or failed)."""
        self._in_flight -= 1
        self._answered.append(self._clock())

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())


class Result(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # blocked, kicked, deleted: stop sending to the chat
    REFUSED = "refused"  # Telegram will not take this message (a bug of ours): log, go on
    FAILED = "failed"  # the network or Telegram kept failing: try again on a later run


class FloodWait(Exception):
    """Telegram asked the bot to stop sending for longer than is worth waiting out."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Telegram asked for a {seconds:.0f} s pause in sending")
        self.seconds = seconds


@dataclass
class Counters:
    sent: int = 0
    throttled: int = 0  # 429 answers
    retried: int = 0  # 5xx, time-outs, network errors tried again
    gone: int = 0
    refused: int = 0
    failed: int = 0
    # The latest send latencies (bounded: a bot runs for months).
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


@dataclass
class Sender:
    """Sends messages with the retry policy of a broadcast: 429 pauses the whole bot for
    `retry_after` (longer than `max_flood_wait`: FloodWait), transient failures are retried
    with exponential backoff and jitter up to `retries` times, a migrated group is
    followed (`on_migrated(old, new)`), and a gone chat is reported, not retried."""

    bot: Bot
    pacer: Pacer
    retries: int = 4
    backoff: float = 0.5
    max_flood_wait: float = 600.0
    on_migrated: Callable[[int, int], Awaitable[None]] | None = None
    on_flood_wait: Callable[[float], Awaitable[None]] | None = None
    on_thread_gone: Callable[[int], Awaitable[None]] | None = None
    counters: Counters = field(default_factory=Counters)

    async def close(self) -> None:
        """Close the bot's connections (it is never initialised, so Bot.shutdown would not)."""
        await self.bot.request.shutdown()

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> tuple[Result, int]:
        """Send one message; returns the result and the chat id it ended up in."""
        failures = 0
        while True:
            await self.pacer.slot()
            started = time.monotonic()
            error: TelegramError | None = None
            try:
                await self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    message_thread_id=thread_id,
                    reply_markup=markup,
                )
            except TelegramError as caught:
                error = caught
            finally:
                self.pacer.done()
            if error is None:
                took = time.monotonic() - started
                self.counters.sent += 1
                self.counters.latencies.append(took)
                metrics.MESSAGES_SENT.inc()
                metrics.SEND_SECONDS.observe(took)
                return Result.SENT, chat_id
            if isinstance(error, RetryAfter):
                await self._flood_wait(retry_after_seconds(error))
            elif isinstance(error, ChatMigrated):
                old, chat_id = chat_id, error.new_chat_id
                log.info("chat %s became %s: following it", old, chat_id)
                if self.on_migrated is not None:
                    await self.on_migrated(old, chat_id)
            elif isinstance(error, Forbidden | BadRequest):
                if thread_id is not None and THREAD_GONE in str(error).lower():
                    log.info("the topic of chat %s is gone: sending to the chat", chat_id)
                    thread_id = None
                    if self.on_thread_gone is not None:
                        await self.on_thread_gone(chat_id)
                elif chat_is_gone(error):
                    self.counters.gone += 1
                    log.info("chat %s is gone: %s", chat_id, error)
                    return Result.GONE, chat_id
                else:
                    self.counters.refused += 1
                    log.error("Telegram refused a message to chat %s: %s", chat_id, error)
                    return Result.REFUSED, chat_id
            elif isinstance(error, NetworkError):  # time-outs, 5xx, connection failures
                failures += 1
                if failures > self.retries:
                    self.counters.failed += 1
                    log.warning("giving up on chat %s for now: %s", chat_id, error)
                    return Result.FAILED, chat_id
                self.counters.retried += 1
                delay = min(60.0, self.backoff * 2 ** (failures - 1)) * random.uniform(0.5, 1.5)
                log.info("sending to %s failed (%s); retry in %.1f s", chat_id, error, delay)
                await asyncio.sleep(delay)
            else:  # an invalid token, a conflict: nothing a retry would change
                raise error

    async def _flood_wait(self, seconds: float) -> None:
        self.counters.throttled += 1
        metrics.THROTTLED.inc()
        if self.on_flood_wait is not None:
            await self.on_flood_wait(seconds)
        # Held for every send of the bot, /digest included, even when the run stops.
        self.pacer.pause(seconds)
        if seconds > self.max_flood_wait:
            raise FloodWait(seconds)
        log.warning("Telegram flood control: every send waits", extra=fields(retry_after=seconds))


async def chat_pause(last_sent: float | None, private: bool) -> None:
    """Wait until one more message to the same chat keeps within its own limit."""
    if last_sent is None:
        return
    interval = (PRIVATE_INTERVAL if private else GROUP_INTERVAL) * (1.0 + MARGIN)
    wait = last_sent + interval - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)
