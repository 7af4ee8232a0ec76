"""Telegram's flood limits on sending: sliding windows per bot and per chat, answered with 429."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.devserver.errors import ApiError


@dataclass(frozen=True, slots=True)
class Limit:
    count: int  # messages allowed...
    seconds: float  # ...in any window this long


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Telegram's published limits by default; None switches one off."""

    overall: Limit | None = Limit(30, 1.0)
    private_chat: Limit | None = Limit(1, 1.0)
    group_chat: Limit | None = Limit(20, 60.0)  # groups, supergroups and channels


class RateLimiter:
    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._sent: defaultdict[int | None, deque[float]] = defaultdict(deque)  # None: overall

    def admit(self, chat_id: int, *, private: bool) -> None:
        """Count one message to `chat_id`, or raise the 429 Telegram would answer instead."""
        now = self._clock()
        per_chat = self._limits.private_chat if private else self._limits.group_chat
        windows = ((None, self._limits.overall), (chat_id, per_chat))
        waits = [self._wait(key, limit, now) for key, limit in windows if limit is not None]
        wait = max(waits, default=0.0)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )
        for key, limit in windows:
            if limit is not None:
                self._sent[key].append(now)

    def _wait(self, key: int | None, limit: Limit, now: float) -> float:
        """Seconds until one more message fits in this window (0: it fits now)."""
        times = self._sent[key]
        while times and times[0] <= now - limit.seconds:
            times.popleft()
        return 0.0 if len(times) < limit.count else times[0] + limit.seconds - now
