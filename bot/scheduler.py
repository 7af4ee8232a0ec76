"""The schedule of a running bot, on APScheduler in the bot's event loop: ingest every source
every PAPERBOY_INGEST_INTERVAL (a failing source backs off on its own), and every half minute
deliver the digests that are due. What is due lives in the database, so the jobs are simply
registered again at start, and a run missed while the bot was down is caught up then."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot
from telegram.request import HTTPXRequest

from bot import metrics, recommendations, service
from bot.config import Settings
from bot.delivery import Sender
from bot.digests import WORKERS, Digests, RunReport
from bot.fetch import FetchPolicy
from bot.ingest import SourceReport, expand_sources, ingest_all
from bot.lease import leadership
from bot.limiter import Limiter
from bot.logs import fields, redact_url
from bot.schedule import utc_now
from storage import queries, schedule

log = logging.getLogger(__name__)

T = TypeVar("T")
DIGEST_TICK = 30.0
# A failing source waits interval * 2^(failures-1) before it is tried again, a day at most.
MAX_BACKOFF = timedelta(days=1)


def make_sender(settings: Settings) -> Sender:
    """A Bot for digests, apart from the one answering commands (connections for every
    concurrent send), with the bot's one Limiter: the application's replies go through
    `sender.limiter` too (bot/app.py), so both share Telegram's budget."""
    api = settings.bot_api_url.rstrip("/")
    timeout = settings.telegram_timeout
    request = HTTPXRequest(
        connection_pool_size=WORKERS,
        read_timeout=timeout,
        write_timeout=timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
    )
    # The sender never polls: one connection pool serves both of the bot's request slots.
    bot = Bot(settings.token(), base_url=f"{api}/bot", request=request, get_updates_request=request)
    # Sent and not yet recorded, at most: what a crash can make the next run repeat. Two (a
    # fifteenth of a second's sending at higher paid rates) keep Telegram's 30 a second at
    # round trips up to about 65 ms, and 20 a second at 100 ms: a slower broadcast is the
    # price of repeating at most two messages per crash.
    unrecorded = max(2, math.ceil(settings.rate_limit / 15))
    return Sender(bot, Limiter(settings.rate_limit), unrecorded=unrecorded)


def backing_off(
    failures: dict[str, tuple[int, datetime]], now: datetime, interval: timedelta
) -> set[str]:
    """The failing sources whose backoff has not run out yet."""
    waiting = set()
    for location, (count, last_error_at) in failures.items():
        backoff = min(MAX_BACKOFF, interval * 2 ** (count - 1))
        # A tenth of slack: the run after the backoff may come a little early (jitter).
        if now < last_error_at + backoff * 0.9:
            waiting.add(location)
    return waiting


def _log_failure(task: asyncio.Task[RunReport | None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a digest run failed", exc_info=task.exception())


async def _in_daemon_thread(work: Callable[[], T]) -> T:
    """asyncio.to_thread, but in a thread that does not hold the process up when it exits:
    a stopping bot does not wait for a slow source's download (a page is stored whole or not
    at all, so leaving one half-read loses nothing)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not done.done():
            outcome()

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting task
            answer = partial(settle, partial(done.set_exception, exc))
        else:
            answer = partial(settle, partial(done.set_result, result))
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(answer)

    threading.Thread(target=run, name="ingest", daemon=True).start()
    return await done


class Scheduler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        digests: Digests,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.digests = digests
        self.clock = clock
        self.lease = leadership(sessions)
        self._aps: AsyncIOScheduler | None = None
        self._run: asyncio.Task[RunReport | None] | None = None
        # Set when the bot stops: an ingest under way (in a thread) starts no new source.
        self._stopping = threading.Event()

    def start(self) -> None:
        """Register the jobs (in a running event loop); the first digest tick is at once."""
        aps = AsyncIOScheduler(timezone=UTC)
        interval = self.settings.ingest_interval
        aps.add_job(
            self.tick,
            IntervalTrigger(seconds=DIGEST_TICK),
            id="digests",
            next_run_time=self.clock(),
            coalesce=True,
            max_instances=1,
        )
        aps.add_job(
            self.ingest,
            IntervalTrigger(seconds=interval, jitter=interval / 10),
            id="ingest",
            next_run_time=self.clock() + timedelta(seconds=5),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(interval),
        )
        aps.start()
        self._aps = aps
        log.info(
            "scheduler started: ingest every %.0f s, digests checked every %.0f s",
            interval,
            DIGEST_TICK,
        )

    async def stop(self) -> None:
        self._stopping.set()
        if self._aps is not None:
            self._aps.shutdown(wait=False)
        if self._run is not None:
            self._run.cancel()
            await asyncio.gather(self._run, return_exceptions=True)
        await asyncio.to_thread(self.lease.release)

    async def tick(self) -> None:
        """Beat (for the health check), and start delivering the due digests unless a run is
        under way (runs can be long)."""
        try:
            await asyncio.to_thread(self._beat)
        except asyncio.CancelledError:
            return  # the bot is stopping: the next start beats again
        if self._run is None or self._run.done():
            self._run = asyncio.create_task(self.deliver_due())
            self._run.add_done_callback(_log_failure)

    async def deliver_due(self) -> RunReport | None:
        """One run over the digests due now; None when it is not this process's turn."""
        now = self.clock()
        flood = await asyncio.to_thread(self.digests.flood_wait_until)
        if flood is not None:
            log.warning("Telegram's flood wait lasts until %s: digests wait", flood.isoformat())
            return None
        if not await asyncio.to_thread(self._due, now):
            return None
        # Led only while there is work, so that `paperboy digest --now` can run in between.
        if not await asyncio.to_thread(self.lease.acquire, now):
            log.info("another process delivers the digests")
            return None
        try:
            due = await asyncio.to_thread(self._due, now)  # the last leader may have sent some
            if not due:
                return None
            log.info("delivering %d due digests", len(due))
            report = await self.digests.run(due, self.lease)
        finally:
            await asyncio.to_thread(self.lease.release)
        summary = report.summary()
        metrics.DIGEST_RUN_SECONDS.observe(report.seconds)
        log.info(
            "digest run: %s",
            summary,
            extra=fields(
                chats=report.chats,
                messages=report.messages,
                papers=report.papers,
                throttled=report.throttled,
                seconds=round(report.seconds, 1),
            ),
        )
        await asyncio.to_thread(self._note, schedule.LAST_DIGEST_RUN, summary)
        return report

    def _note(self, key: str, value: str) -> None:
        with self.sessions.begin() as session:
            schedule.set_state(session, key, value, self.clock())

    def _beat(self) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            schedule.set_state(session, schedule.HEARTBEAT, now.isoformat(), now)
            metrics.ACTIVE_SUBSCRIBERS.set(schedule.receiving_count(session))

    def _due(self, now: datetime) -> list[int]:
        with self.sessions.begin() as session:
            return service.due_chats(session, now)

    async def ingest(self) -> list[SourceReport]:
        """Ingest every configured and admin-added source, except those backing off."""
        now = self.clock()
        due = await asyncio.to_thread(self._sources_due, now)
        policy = await asyncio.to_thread(self._fetch_policy)
        try:
            reports = await _in_daemon_thread(partial(self._ingest, due, policy, now))
        except asyncio.CancelledError:
            # The bot is stopping (SIGTERM, SIGINT): not a failure. The page being read is
            # stored whole or not at all; the rest wait for the next start.
            self._stopping.set()
            log.info("ingest stopped: paperboy is shutting down")
            return []
        for report in reports:
            metrics.PAPERS_INGESTED.labels(redact_url(report.source)).inc(report.new)
            if report.status == "failed":
                log.warning("source failed", extra=fields(source=report.source, error=report.error))
        new = sum(r.new for r in reports)
        log.info("ingest done", extra=fields(sources=len(reports), new=new))
        await asyncio.to_thread(self._note, schedule.LAST_INGEST, now.isoformat())
        # The sentence vectors the newest papers lack (the new ones; after an upgrade, all),
        # made now rather than in the next digest run, which makes any still missing.
        try:
            await _in_daemon_thread(self._prepare)
        except asyncio.CancelledError:
            self._stopping.set()
        except Exception as exc:
            log.warning("sentence vectors not made: %s: %s", type(exc).__name__, exc)
        return reports

    def _prepare(self) -> None:
        recommendations.prepare(self.sessions, self._stopping.is_set)

    def _fetch_policy(self) -> FetchPolicy:
        with self.sessions() as session:
            chat_sources = service.chat_sources(session, self.settings.sources)
        return self.settings.fetch_policy(chat_sources)

    def _ingest(self, sources: list[str], policy: FetchPolicy, now: datetime) -> list[SourceReport]:
        """Source by source, so that a stopping bot starts no new one."""
        reports: list[SourceReport] = []
        for source in sources:
            if self._stopping.is_set():
                break
            reports += ingest_all(self.sessions, [source], policy, now=now)
        return reports

    def _sources_due(self, now: datetime) -> list[str]:
        interval = timedelta(seconds=self.settings.ingest_interval)
        with self.sessions() as session:
            sources = expand_sources(service.ingest_sources(session, self.settings.sources))
            waiting = backing_off(queries.failures_since(session, sources), now, interval)
        if waiting:
            log.info("%d failing sources back off this time", len(waiting))
        return [source for source in sources if source not in waiting]
