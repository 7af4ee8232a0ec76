"""One user's flood never stalls the others: updates are throttled per user and per group
before any work, and each chat's updates are handled in order while different chats are
handled concurrently.

A reply waits on Telegram's pace for its own chat only: that wait happens inside the
update's own processing, in its chat's lane, so other chats' lanes go on meanwhile.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor, filters

log = logging.getLogger(__name__)

# Messages and button taps one user may send a minute; a group takes several users'.
UPDATES_PER_MINUTE = 20
GROUP_UPDATES_PER_MINUTE = 60
# "@bot query" sends one query per pause in typing: more of those.
INLINE_PER_MINUTE = 60
# Updates handled at once across chats (a chat's own wait in its lane; waiting is free):
# with the refusals, well under the 256 connections of PTB's pool, whose 1 s pool timeout
# would fail calls.
RUNNING = 64
# Refusals answered at once: a flood's are cheap, and need no burst of connections.
REFUSING = 4
# Updates PTB hands over at once: they wait for their lane here, throttled first.
WAITING = 10_000
KEPT = 10_000  # windows kept before the quiet ones are forgotten

SLOW_DOWN = "Please slow down: too many messages in a minute."
SLOW_DOWN_TAPS = "Please slow down: too many taps in a minute. Try again shortly."


Verdict = Literal["handle", "notice", "drop"]


@dataclass(slots=True)
class _Window:
    admitted: deque[float] = field(default_factory=deque)
    noticed: float | None = None


class Throttle:
    """At most `limit` admissions per `seconds` for each key (a sliding window). What is
    refused is not counted, so a flood ends its sender's pause as soon as it stops."""

    def __init__(
        self, limit: int, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._windows: dict[Hashable, _Window] = {}

    def full(self, key: Hashable) -> bool:
        window = self._windows.get(key)
        if window is None:
            return self.limit <= 0
        now = self._clock()
        while window.admitted and now - window.admitted[0] >= self.seconds:
            window.admitted.popleft()
        return len(window.admitted) >= self.limit

    def count(self, key: Hashable) -> None:
        now = self._clock()
        if key not in self._windows and len(self._windows) >= KEPT:
            self._forget(now)
        self._windows.setdefault(key, _Window()).admitted.append(now)

    def notice_due(self, key: Hashable) -> bool:
        """Whether a refusal should say so: once per window, the rest are silent."""
        window = self._windows.setdefault(key, _Window())
        now = self._clock()
        if window.noticed is not None and now - window.noticed < self.seconds:
            return False
        window.noticed = now
        return True

    def _forget(self, now: float) -> None:
        quiet = [
            key
            for key, window in self._windows.items()
            if not window.admitted or now - window.admitted[-1] >= self.seconds
        ]
        for key in quiet:
            del self._windows[key]


@dataclass(frozen=True, slots=True)
class Gate:
    """The throttles an update passes before any work is done for it."""

    users: Throttle = field(default_factory=lambda: Throttle(UPDATES_PER_MINUTE))
    groups: Throttle = field(default_factory=lambda: Throttle(GROUP_UPDATES_PER_MINUTE))
    inline: Throttle = field(default_factory=lambda: Throttle(INLINE_PER_MINUTE))

    def admit(self, update: Update) -> Verdict:
        """Whether to handle the update, or drop it after a notice, or drop it silently."""
        user, chat = update.effective_user, update.effective_chat
        posted = update.message or update.channel_post
        if update.inline_query is not None:
            checks = [(self.inline, user.id if user else None)]
        elif update.callback_query is not None or (
            posted is not None and not filters.StatusUpdate.ALL.check_update(update)
        ):
            group = chat.id if chat is not None and chat.type != ChatType.PRIVATE else None
            checks = [(self.users, user.id if user else None), (self.groups, group)]
        else:
            return "handle"  # edits (ignored anyway), service messages such as a migration
        checks = [(throttle, key) for throttle, key in checks if key is not None]
        for throttle, key in checks:
            if throttle.full(key):
                return "notice" if throttle.notice_due(key) else "drop"
        for throttle, key in checks:
            throttle.count(key)
        return "handle"


def lane(update: object) -> Hashable | None:
    """The queue an update waits in: its chat's messages, or its chat's button taps (so a
    tap is answered while the chat's replies wait on Telegram's pace); None: no order."""
    if not isinstance(update, Update) or update.inline_query is not None:
        return None
    query = update.callback_query
    if query is not None:
        return ("taps", query.message.chat.id if query.message else query.from_user.id)
    chat, user = update.effective_chat, update.effective_user
    if chat is not None:
        return ("chat", chat.id)
    return ("user", user.id) if user is not None else None


class ChatLanes(BaseUpdateProcessor):
    """PTB's update processor for `concurrent_updates`: throttles, then runs each update in
    its lane (one at a time per lane, in arrival order), different lanes at once."""

    def __init__(self, gate: Gate | None = None, running: int = RUNNING) -> None:
        super().__init__(WAITING)
        self.gate = gate or Gate()
        self._running = asyncio.Semaphore(running)
        self._refusing = asyncio.Semaphore(REFUSING)
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._waiting: Counter[Hashable] = Counter()

    @property
    def busy(self) -> int:
        """Lanes with an update running or waiting; idle ones are forgotten."""
        return len(self._locks)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if isinstance(update, Update):
            verdict = self.gate.admit(update)
            if verdict != "handle":
                if inspect.iscoroutine(coroutine):
                    coroutine.close()  # never started: nothing of it ran
                if update.callback_query is not None:
                    # Every tap is answered, at once: an answer is no message in the chat.
                    async with self._refusing:
                        await _answer(update.callback_query)
                    return
                if verdict == "drop" or update.message is None:
                    return
                # A reply like any other: in the chat's lane, at the chat's pace.
                coroutine = _slow_down(update.message)
        key = lane(update)
        if key is None:
            async with self._running:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] += 1
        try:
            # The lane first, then a running slot: updates queued behind their own chat
            # hold no slot that another chat could use.
            async with lock, self._running:
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]


async def _answer(query: CallbackQuery) -> None:
    try:
        await query.answer(SLOW_DOWN_TAPS)
    except TelegramError as error:
        log.warning("could not answer a throttled tap: %s", error)


async def _slow_down(message: Message) -> None:
    """The one notice a window to a user (or group) whose messages are dropped."""
    try:
        await message.reply_text(SLOW_DOWN)
    except TelegramError as error:
        log.warning("could not tell a throttled user to slow down: %s", error)
