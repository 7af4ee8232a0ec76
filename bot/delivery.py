"""Sending to Telegram at its limits: one pace for the whole bot, a pace per chat, and what
to do with each kind of refusal. No database here: callers say what a result means."""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
import warnings
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
# Spacing is stretched by this much so that jitter on the way never adds up to a 429.
MARGIN = 0.04
CHAT_GONE = ("blocked", "deactivated", "kicked", "chat not found", "not a member")


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
    """Hands out send slots no closer than 1/rate seconds apart, for the whole bot, and
    holds every send back while Telegram's flood wait lasts."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = (1.0 + MARGIN) / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0

    async def slot(self) -> None:
        while True:
            now = self._clock()
            start = max(now, self._next, self._paused_until)
            self._next = start + self.interval
            if start > now:
                await self._sleep(start - now)
            if self._paused_until <= self._clock():
                return
            # A flood wait began while this send was waiting: take a slot after it.

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
    latencies: list[float] = field(default_factory=list)


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
    counters: Counters = field(default_factory=Counters)

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
            try:
                await self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    message_thread_id=thread_id,
                    reply_markup=markup,
                )
            except RetryAfter as error:
                await self._flood_wait(retry_after_seconds(error))
                continue
            except ChatMigrated as error:
                old, chat_id = chat_id, error.new_chat_id
                log.info("chat %s became %s: following it", old, chat_id)
                if self.on_migrated is not None:
                    await self.on_migrated(old, chat_id)
                continue
            except (Forbidden, BadRequest) as error:
                if chat_is_gone(error):
                    self.counters.gone += 1
                    log.info("chat %s is gone: %s", chat_id, error)
                    return Result.GONE, chat_id
                self.counters.refused += 1
                log.error("Telegram refused a message to chat %s: %s", chat_id, error)
                return Result.REFUSED, chat_id
            except NetworkError as error:  # time-outs, 5xx, connection failures
                failures += 1
                if failures > self.retries:
                    self.counters.failed += 1
                    log.warning("giving up on chat %s for now: %s", chat_id, error)
                    return Result.FAILED, chat_id
                self.counters.retried += 1
                delay = min(60.0, self.backoff * 2 ** (failures - 1)) * random.uniform(0.5, 1.5)
                log.info("sending to %s failed (%s); retry in %.1f s", chat_id, error, delay)
                await asyncio.sleep(delay)
                continue
            took = time.monotonic() - started
            self.counters.sent += 1
            self.counters.latencies.append(took)
            metrics.MESSAGES_SENT.inc()
            metrics.SEND_SECONDS.observe(took)
            return Result.SENT, chat_id

    async def _flood_wait(self, seconds: float) -> None:
        self.counters.throttled += 1
        metrics.THROTTLED.inc()
        if self.on_flood_wait is not None:
            await self.on_flood_wait(seconds)
        if seconds > self.max_flood_wait:
            raise FloodWait(seconds)
        log.warning("Telegram flood control: every send waits", extra=fields(retry_after=seconds))
        self.pacer.pause(seconds)


async def chat_pause(last_sent: float | None, private: bool) -> None:
    """Wait until one more message to the same chat keeps within its own limit."""
    if last_sent is None:
        return
    interval = (PRIVATE_INTERVAL if private else GROUP_INTERVAL) * (1.0 + MARGIN)
    wait = last_sent + interval - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)
