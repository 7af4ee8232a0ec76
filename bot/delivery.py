"""Sending digests to Telegram: what to do with each kind of refusal. The pace is the bot's
Limiter's (bot/limiter.py), the retries bot/retry.py's. No database here: callers say what a
result means."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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
from bot.limiter import Limiter, retry_after_seconds
from bot.logs import fields
from bot.retry import Retry

log = logging.getLogger(__name__)

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
    followed (`on_migrated(old, new)`), and a gone chat is reported, not retried. Its waits
    and times go by the limiter's clock.

    At most `unrecorded` messages are sent and not yet recorded at any instant (`on_sent`
    records a message): all that a crash can make the next run repeat, however slow the
    recording or busy the machine."""

    bot: Bot
    limiter: Limiter
    unrecorded: int = 3
    retries: int = 4
    backoff: float = 0.5
    max_flood_wait: float = 600.0
    on_migrated: Callable[[int, int], Awaitable[None]] | None = None
    on_flood_wait: Callable[[float], Awaitable[None]] | None = None
    on_thread_gone: Callable[[int], Awaitable[None]] | None = None
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        self._unrecorded = asyncio.Semaphore(self.unrecorded)

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
        on_sent: Callable[[], Awaitable[None]] | None = None,
        urgent: bool = False,
    ) -> tuple[Result, int]:
        """Send one message, awaiting `on_sent()` once Telegram accepted it (`urgent`: in the
        limiter's lane of answers to commands); returns the result and the chat id it ended
        up in."""
        retry = Retry(self.retries, self.backoff)
        failures = 0
        while True:
            error: TelegramError | None = None
            gated = False
            try:
                # The limiter paces the chat too: its messages keep within its own limit.
                async with self.limiter.message(chat_id, urgent=urgent):
                    await self._unrecorded.acquire()
                    gated = True
                    started = self.limiter.clock()
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
                if error is None:
                    took = self.limiter.clock() - started
                    self.counters.sent += 1
                    self.counters.latencies.append(took)
                    metrics.MESSAGES_SENT.inc()
                    metrics.SEND_SECONDS.observe(took)
                    if on_sent is not None:
                        await on_sent()
                    return Result.SENT, chat_id
            finally:
                if gated:
                    self._unrecorded.release()
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
                delay = retry.delay(failures)
                if delay is None:
                    self.counters.failed += 1
                    log.warning("giving up on chat %s for now: %s", chat_id, error)
                    return Result.FAILED, chat_id
                self.counters.retried += 1
                log.info("sending to %s failed (%s); retry in %.1f s", chat_id, error, delay)
                await self.limiter.sleep(delay)
            else:  # an invalid token, a conflict: nothing a retry would change
                raise error

    async def _flood_wait(self, seconds: float) -> None:
        self.counters.throttled += 1
        metrics.THROTTLED.inc()
        if self.on_flood_wait is not None:
            await self.on_flood_wait(seconds)
        # Held for every send of the bot, /digest included, even when the run stops.
        self.limiter.pause(seconds)
        if seconds > self.max_flood_wait:
            raise FloodWait(seconds)
        log.warning("Telegram flood control: every send waits", extra=fields(retry_after=seconds))
