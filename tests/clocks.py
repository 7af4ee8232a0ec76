"""Virtual time for tests that would otherwise sleep in real time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time


class FastTime:
    """A clock that runs `speed` times faster than the real one, with its sleep: hand both to
    the code under test and the stand-in (whose thread reads `clock` too), and a second of
    waiting costs 1/speed of one while every order and ratio of times is kept. Real work
    (requests, the database) only looks slower on this clock, as on a busy machine."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._start = time.monotonic()

    def clock(self) -> float:
        return self._start + (time.monotonic() - self._start) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)


class VirtualTime:
    """An event-driven clock for code that does no I/O: time stands still while any task can
    run; once none can, the earliest sleep ends and the clock jumps to its end. No real time
    passes, and the order of wake-ups is exact (no jitter of a busy machine)."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), next(self._order), woken))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await woken

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while self._timers:
            await asyncio.sleep(0)
            # asyncio's queue of callbacks ready to run: empty, every other task waits.
            if loop._ready:  # type: ignore[attr-defined]
                continue
            wake, _, woken = heapq.heappop(self._timers)
            if not woken.done():  # not cancelled meanwhile
                self.now = max(self.now, wake)
                woken.set_result(None)
