"""Telegram's sending budget, owned by one object: every message the bot sends, command
replies and digests alike, passes through the bot's one Limiter.

- The whole bot: send slots 1/rate seconds apart, granted one at a time and only when due
  (a busy event loop cannot cause a burst afterwards), and never more than `rate` messages in
  flight or answered within the last second, so that however requests bunch up on the way,
  Telegram never counts more than `rate` in one second.
- Each chat: Telegram's own limits (FloodLimit), waited for before the queue for a slot, so a
  chat that must wait holds up no other chat.
- Replies first: a command's answer takes the next slot ahead of every digest message.
- A 429 to a digest message pauses every send of the bot for the time Telegram asks; a 429
  to a command's answer pauses that chat only (a user's burst of commands must not hold up
  everyone else's answers: the bot-wide window already keeps the whole bot under budget).

`Replies` is python-telegram-bot's rate limiter for the application's own requests: it puts
their messages through the same Limiter the digest Sender uses.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from telegram.constants import FloodLimit
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.retry import Retry

# A chat's own window is stretched by this much, so that jitter never adds up to a 429.
MARGIN = 0.04
# Lanes: a lower one is served first.
REPLY, DIGEST = 0, 1
# Requests that post a message; the others (answerCallbackQuery, getMe, getFile,
# answerInlineQuery, edits...) are not counted against the message budget.
# A reply tries again after a 429 (each time waiting out the pause) within this.
REPLY_RETRY = Retry(retries=3, backoff=0.0, budget=60.0)
MESSAGE_ENDPOINTS = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB warns about the int form of the attribute; either form says the same.
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _is_private(chat_id: int | str) -> bool:
    return isinstance(chat_id, int) and chat_id > 0  # groups and channels are negative, or @names


def is_message(endpoint: str) -> bool:
    return endpoint in MESSAGE_ENDPOINTS or (
        endpoint.startswith("send") and endpoint != "sendChatAction"
    )


class Window:
    """At most `count` messages in flight or answered within the last `seconds`, counted by
    lane. An answer comes after Telegram counted the message: counting answers errs on the
    safe side."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.seconds = seconds
        self._in_flight = [0, 0]  # by lane
        self._answered: deque[tuple[float, int]] = deque()  # (when, lane)
        self.paused_until = 0.0  # a 429 in this chat: none of its messages before then

    def wait(self, now: float, lanes: tuple[int, ...] = (REPLY, DIGEST)) -> float | None:
        """Seconds until one more fits, counting these lanes' messages (0: now; None: all
        are in flight, no telling)."""
        while self._answered and self._answered[0][0] <= now - self.seconds:
            self._answered.popleft()
        answered = [when for when, lane in self._answered if lane in lanes]
        if sum(self._in_flight[lane] for lane in lanes) + len(answered) < self.count:
            return 0.0
        return answered[0] + self.seconds - now if answered else None

    def take(self, lane: int) -> None:
        self._in_flight[lane] += 1

    def release(self, now: float, lane: int, sent: bool) -> None:
        self._in_flight[lane] -= 1
        if sent:
            self._answered.append((now, lane))

    def idle(self, now: float) -> bool:
        self.wait(now)  # drops the answers that left the window
        return not any(self._in_flight) and not self._answered and self.paused_until <= now


class Limiter:
    """The bot's one sending budget: `async with limiter.message(chat_id, urgent=...)`
    around each send of a message."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / per_second
        self._overall = Window(max(1, math.floor(per_second)), 1.0)
        # The bot's sending clock: the Sender's backoff and latencies go by it too (a test
        # runs a whole fan-out on virtual time through these two).
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._chats: dict[int | str, Window] = {}
        self._sweep_at = 1024
        # Whoever holds the turn waits for the next slot; the others queue by lane, then age.
        self._turn_held = False
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tickets = itertools.count()

    @asynccontextmanager
    async def message(self, chat_id: int | str, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold a slot for one message to `chat_id` while it is sent; `urgent` for the answer
        to a command: ahead of digests, and in a private chat not spaced at all (Telegram
        tolerates a short burst there, as PTB's own limiter assumed, and a user is waiting)."""
        lane = REPLY if urgent else DIGEST
        chat = await self._chat_turn(chat_id, lane)
        sent = False
        try:
            await self._slot(lane)
            sent = True
            yield
        finally:
            now = self.clock()
            if sent:
                self._overall.release(now, lane, sent=True)
            chat.release(now, lane, sent)

    def pause(self, seconds: float) -> None:
        """Telegram asked for a pause (429): every send of the bot waits it out."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def pause_chat(self, chat_id: int | str, seconds: float) -> None:
        """Telegram asked for a pause in one chat: only that chat's messages wait it out."""
        now = self.clock()
        chat = self._window(chat_id, now)
        chat.paused_until = max(chat.paused_until, now + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self.clock())

    async def _chat_turn(self, chat_id: int | str, lane: int) -> Window:
        private = _is_private(chat_id)
        # A private chat's digest messages are spaced among themselves only: a reply there
        # is never held up by them, nor they by it (one message on its own is no flood).
        lanes = (DIGEST,) if private else (REPLY, DIGEST)
        while True:
            now = self.clock()
            chat = self._window(chat_id, now)
            wait = 0.0 if private and lane == REPLY else chat.wait(now, lanes)
            if chat.paused_until > now:
                wait = max(wait or 0.0, chat.paused_until - now)
            if wait == 0.0:
                chat.take(lane)
                return chat
            await self.sleep(self.interval if wait is None else wait)

    def _window(self, chat_id: int | str, now: float) -> Window:
        chat = self._chats.get(chat_id)
        if chat is None:
            self._sweep(now)
            chat = self._chats[chat_id] = (
                Window(FloodLimit.MESSAGES_PER_SECOND_PER_CHAT, 1.0 * (1 + MARGIN))
                if _is_private(chat_id)
                else Window(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP, 60.0 * (1 + MARGIN))
            )
        return chat

    def _sweep(self, now: float) -> None:
        """Forget the chats with nothing left in their windows (a bot runs for months)."""
        if len(self._chats) < self._sweep_at:
            return
        for key in [key for key, chat in self._chats.items() if chat.idle(now)]:
            del self._chats[key]
        self._sweep_at = max(1024, 2 * len(self._chats))

    async def _slot(self, lane: int) -> None:
        ticket = next(self._tickets)
        held = False
        try:
            await self._take_turn(lane, ticket)
            held = True
            while True:
                now = self.clock()
                window = self._overall.wait(now)
                wait = max(
                    self._next - now,
                    self._paused_until - now,
                    self.interval if window is None else window,
                )
                if wait <= 0:
                    break
                await self.sleep(wait)
                if self._queue and self._queue[0][0] < lane:
                    # A reply came while this digest message waited: the slot is the reply's.
                    held = False
                    self._pass_turn()
                    await self._take_turn(lane, ticket)
                    held = True
            self._next = now + self.interval
            self._overall.take(lane)
        finally:
            if held:
                self._pass_turn()

    async def _take_turn(self, lane: int, ticket: int) -> None:
        if not self._turn_held and not self._queue:
            self._turn_held = True
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (lane, ticket, granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._pass_turn()  # granted just as it was cancelled: the next one's
            raise

    def _pass_turn(self) -> None:
        while self._queue:
            _, _, granted = heapq.heappop(self._queue)
            if not granted.done():  # not cancelled while it waited
                granted.set_result(None)
                return
        self._turn_held = False


class Replies(BaseRateLimiter[int]):
    """PTB's rate limiter for the application's requests: their messages take the bot's
    Limiter ahead of digests; a 429 pauses that chat's sends and the request is tried again,
    within
    `retry`. `rate_limit_args` (an int) replaces the number of retries for one call."""

    def __init__(self, limiter: Limiter, retry: Retry = REPLY_RETRY) -> None:
        self.limiter = limiter
        self.retry = retry

    async def initialize(self) -> None:
        """Nothing to set up: the Limiter lives as long as the bot."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if not is_message(endpoint) or not isinstance(chat_id, int | str):
            return await callback(*args, **kwargs)
        retry = self.retry
        if rate_limit_args is not None:
            retry = Retry(rate_limit_args, retry.backoff, retry.max_delay, retry.budget)
        started = self.limiter.clock()
        failures = 0
        while True:
            try:
                async with self.limiter.message(chat_id, urgent=True):
                    return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                # The next attempt waits it out; other chats' answers go on meanwhile.
                self.limiter.pause_chat(chat_id, seconds)
                failures += 1
                elapsed = self.limiter.clock() - started
                if retry.delay(failures, seconds, elapsed) is None:
                    raise
