"""The one retry policy of the bot, for fetching pages and for sending to Telegram: bounded
attempts, exponential backoff with jitter, a wait the server asks for honoured, and an
overall time budget. The callers own the loop (what is retryable differs); this says how
long to wait before the next attempt, or that there is to be none."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Retry:
    retries: int  # attempts after the first
    backoff: float  # seconds before the first retry (before jitter); doubles after each
    max_delay: float = 60.0  # one backoff wait is never longer
    # Give up rather than wait past this many seconds since the first attempt.
    budget: float = math.inf

    def delay(
        self, failures: int, retry_after: float | None = None, elapsed: float = 0.0
    ) -> float | None:
        """Seconds to wait after the `failures`-th failed attempt (1 for the first), or None:
        give up. A server-given `retry_after` replaces the backoff (it is not capped: the
        caller decides whether it is too long to wait)."""
        if failures > self.retries:
            return None
        if retry_after is not None:
            wait = max(0.0, retry_after)
        else:
            wait = min(self.max_delay, self.backoff * 2 ** (failures - 1))
            wait *= random.uniform(0.5, 1.5)  # retries from many callers do not line up
        if elapsed + wait > self.budget:
            return None
        return wait
