"""Digest runs: plan each chat's digest, send it through the delivery engine, record what
Telegram accepted, and close the chat's day. The one code path of the scheduled digests,
`paperboy digest --now`, /digest and the "N more" button.

A paper counts as delivered only once Telegram accepted the message carrying it, and the
record is written right after by one writer of its own, committing together whatever was
accepted meanwhile (no queue behind other database work), so a crash repeats little more
than the messages in flight at that instant, and never loses a paper. A chat's day is
closed only when its digest is complete; a run cut short is resumed by the next one with
the chats it had not finished.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from bot import render, service
from bot.delivery import FloodWait, Result, Sender
from bot.lease import PROCESS, Leadership
from bot.render import feedback_keyboard, more_row, plural
from bot.replies import Digest
from bot.schedule import utc_now
from storage import feedback, schedule, subscriptions
from storage.feedback import Mark

log = logging.getLogger(__name__)

NOTHING_NEW = "Nothing new for your keywords today."
NOTHING_NEW_THIS_WEEK = "Nothing new for your keywords this week."
WORKERS = 64
# A claim outlives any one chat's digest; a crashed process's claims are dropped by the next
# leader if it can tell the process is dead (bot/lease.py), else they run out.
CLAIM_TTL = timedelta(minutes=2)
# A chat whose digest could not be sent (Telegram or the network kept failing) is tried
# again this much later.
RETRY_FAILED = timedelta(minutes=10)
RENEW_EVERY = 15.0


class Outcome(enum.Enum):
    DELIVERED = "delivered"  # every message of the digest was accepted
    EMPTY = "empty"  # nothing new (a "nothing new" note may have been sent)
    GONE = "gone"  # the chat is gone: deactivated
    FAILED = "failed"  # Telegram or the network kept failing: the chat stays due
    REFUSED = "refused"  # Telegram refused a message (logged): its papers stay unsent
    NO_SUBSCRIPTION = "no subscription"
    BUSY = "busy"  # another task or process is delivering this chat's digest right now
    DONE = "done already"  # the chat had this day's digest (another process was quicker)


@dataclass
class RunReport:
    chats: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    papers: int = 0
    throttled: int = 0
    retried: int = 0
    seconds: float = 0.0
    flood_wait: float | None = None
    error: str | None = None

    def count(self, outcome: Outcome) -> None:
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1

    def summary(self) -> str:
        done = ", ".join(f"{n} {name}" for name, n in sorted(self.outcomes.items())) or "none"
        sent = f"{plural(self.messages, 'message')} with {plural(self.papers, 'paper')}"
        line = (
            f"{plural(self.chats, 'chat')} ({done}); {sent} in {self.seconds:.1f} s; "
            f"{self.throttled} 429s, {self.retried} retries"
        )
        if self.flood_wait is not None:
            line += f"; stopped: Telegram asked for a {self.flood_wait:.0f} s pause"
        if self.error is not None:
            line += f"; stopped: {self.error}"
        return line


@dataclass(frozen=True, slots=True)
class Accepted:
    """Papers Telegram accepted a message with."""

    subscriber_id: int
    paper_ids: list[int]
    at: datetime


class Recorder:
    """Records accepted messages at once: one thread of its own writes them, each batch in
    one transaction with everything accepted while the last one was written (a group
    commit), so a record never waits behind planning or other writes for a thread."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="paperboy-record")
        self._pending: list[tuple[Accepted, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, accepted: Accepted) -> None:
        """Returns once the record is committed. Written even if the caller is cancelled:
        the message went out."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((accepted, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            failures = await loop.run_in_executor(
                self._writer, self._write, [accepted for accepted, _ in batch]
            )
            for (_, done), failure in zip(batch, failures, strict=True):
                if failure is None:
                    done.set_result(None)
                else:
                    done.set_exception(failure)

    def _write(self, batch: list[Accepted]) -> list[Exception | None]:
        """Commit the batch together; if that fails, each on its own (one bad record, say
        of a chat deleted meanwhile, must not fail the others). Returns each one's error."""
        try:
            with self.sessions.begin() as session:
                for one in batch:
                    subscriptions.record_deliveries(
                        session, one.subscriber_id, one.paper_ids, one.at
                    )
        except Exception as failure:
            if len(batch) == 1:
                return [failure]
            return [self._write([one])[0] for one in batch]
        return [None] * len(batch)


@dataclass
class Digests:
    """Delivers digests with one Sender (its limiter is the bot's one budget) and shared
    candidates."""

    sessions: sessionmaker[Session]
    sender: Sender
    limit: int
    clock: Callable[[], datetime] = utc_now
    # Up to this many "Recommended for you" papers per digest (PAPERBOY_RECOMMEND_MAX).
    recommend: int = 0
    _candidates: service.Candidates | None = None
    _busy: set[int] = field(default_factory=set)

    def _in_session(self, work: Callable[..., object], *args: object) -> None:
        with self.sessions.begin() as session:
            work(session, *args)

    def __post_init__(self) -> None:
        self.sender.on_migrated = self._migrated
        self.sender.on_flood_wait = self.note_flood_wait
        self.sender.on_thread_gone = self._thread_gone
        self._indexing = threading.Lock()
        self._recorder = Recorder(self.sessions)

    async def _record(self, subscriber_id: int, paper_ids: list[int]) -> None:
        await self._recorder.record(Accepted(subscriber_id, paper_ids, self.clock()))

    async def _thread_gone(self, chat_id: int) -> None:
        await self._write(subscriptions.forget_thread, chat_id)

    async def _migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        await self._write(subscriptions.migrate, old_chat_id, new_chat_id)

    def candidates(self, session: Session) -> service.Candidates:
        """The candidates of the current store, indexed again only after new papers came
        (by one thread: the others wait for it rather than index the same papers too)."""
        with self._indexing:
            self._candidates = service.candidates(session, self._candidates)
            return self._candidates

    def _plan(self, chat_id: int) -> tuple[Digest, dict[int, Mark]]:
        """The chat's digest, and its feedback on the papers (a paper rated in /search
        before it came in a digest shows its 👍✓ there too)."""
        with self.sessions() as session:
            plan = service.digest(
                session,
                chat_id,
                self.candidates(session),
                self.limit,
                self.recommend,
                now=self.clock(),
            )
            if plan.subscriber_id is None:
                return plan, {}
            # The plan found the subscriber already: no second lookup of the chat.
            return plan, feedback.marks(session, plan.subscriber_id, plan.paper_ids)

    async def _write(self, work: Callable[..., object], *args: object) -> None:
        """Run work(session, *args) in a transaction, off the event loop: a write may wait
        for an ingest holding the database."""
        await asyncio.to_thread(self._in_session, work, *args)

    def _claim(self, chat_id: int, started: datetime | None) -> Outcome | None:
        """Claim the chat for this process; an outcome instead if it is not to be sent."""
        with self.sessions.begin() as session:
            if not subscriptions.is_subscribed(session, chat_id):
                return Outcome.NO_SUBSCRIPTION
            if not schedule.claim(session, chat_id, PROCESS, self.clock(), CLAIM_TTL):
                return Outcome.BUSY
            if started is not None and service.had_digest(session, chat_id, started):
                schedule.release_claim(session, chat_id, PROCESS)
                return Outcome.DONE
        return None

    async def deliver(
        self, chat_id: int, started: datetime | None = None
    ) -> tuple[Outcome, int, int]:
        """Send the chat its unsent matches (first `limit`, the rest behind "N more");
        with `started`, as that run's digest of the day, which it then closes. Returns the
        outcome and how many messages and papers were accepted. A chat is delivered by one
        task of one process at a time: others get Outcome.BUSY."""
        if chat_id in self._busy:
            return Outcome.BUSY, 0, 0
        self._busy.add(chat_id)
        try:
            refused = await asyncio.to_thread(self._claim, chat_id, started)
            if refused is not None:
                return refused, 0, 0
            moved_to = [chat_id]
            try:
                return await self._deliver(chat_id, started, moved_to)
            finally:
                for claimed in moved_to:
                    await self._write(schedule.release_claim, claimed, PROCESS)
        finally:
            self._busy.discard(chat_id)

    async def _deliver(
        self, chat_id: int, started: datetime | None, moved_to: list[int]
    ) -> tuple[Outcome, int, int]:
        plan, marks = await asyncio.to_thread(self._plan, chat_id)
        if plan.subscriber_id is None:
            return Outcome.NO_SUBSCRIPTION, 0, 0
        matched, recommended = render.digest(plan)
        messages = [*matched, *recommended]
        if not messages and plan.notify_empty and started is not None:
            messages = [(NOTHING_NEW_THIS_WEEK if plan.weekly else NOTHING_NEW, [])]
        more = more_row(chat_id, plan.more)
        # "N more" goes under the last message of keyword matches, not the recommendations.
        with_more = len(matched) - 1
        sent = papers = refused = 0
        for index, (text, paper_ids) in enumerate(messages):
            # The sender's limiter keeps the chat's messages within the chat's own limit.
            result, chat_id = await self.sender.send(
                chat_id,
                text,
                thread_id=plan.thread_id,
                # A row of feedback buttons per paper, numbered as the message numbers them.
                markup=feedback_keyboard(
                    paper_ids, marks, extra=[more] if index == with_more else ()
                ),
                # Recorded as soon as Telegram accepted the message that carries them.
                on_sent=partial(self._record, plan.subscriber_id, paper_ids) if paper_ids else None,
                # Asked for (/digest, "N more"): sent as the answer to a command is.
                urgent=started is None,
            )
            moved_to.append(chat_id)  # a migrated group's claim moved with its row
            if result is Result.SENT:
                sent += 1
                papers += len(paper_ids)
            elif result is Result.GONE:
                await self._write(subscriptions.deactivate, chat_id)
                return Outcome.GONE, sent, papers
            elif result is Result.FAILED:
                if started is not None:  # the day stays open; not again at the next tick
                    retry_at = self.clock() + RETRY_FAILED
                    await self._write(schedule.postpone, chat_id, retry_at)
                return Outcome.FAILED, sent, papers
            else:  # REFUSED, and logged by the sender: the rest of the digest goes on
                refused += 1
        if started is not None:
            await self._write(service.finish_digest, chat_id, started)
        if refused:
            return Outcome.REFUSED, sent, papers
        return (Outcome.DELIVERED if matched or recommended else Outcome.EMPTY), sent, papers

    async def run(
        self, chat_ids: Sequence[int], lease: Leadership | None = None, *, daily: bool = True
    ) -> RunReport:
        """Deliver the digests of these chats concurrently (the limiter keeps the pace); as
        their digest of the day (`daily`), or, like /digest, just what is unsent now."""
        started = self.clock()
        clock_start = time.monotonic()
        report = RunReport(chats=len(chat_ids))
        counters = self.sender.counters
        before = (counters.sent, counters.throttled, counters.retried)
        queue = list(reversed(chat_ids))
        finished = asyncio.Event()
        running = min(WORKERS, len(chat_ids))

        async def worker() -> None:
            nonlocal running
            try:
                while queue:
                    chat_id = queue.pop()
                    try:
                        outcome, _, papers = await self.deliver(chat_id, started if daily else None)
                    except (FloodWait, asyncio.CancelledError):
                        raise
                    except Exception:
                        log.exception("the digest of chat %s failed; it stays due", chat_id)
                        outcome, papers = Outcome.FAILED, 0
                    report.count(outcome)
                    report.papers += papers
            finally:
                running -= 1
                if not running:
                    finished.set()

        async def keep_lease(lease: Leadership) -> None:
            while not finished.is_set():
                try:
                    await asyncio.wait_for(finished.wait(), RENEW_EVERY)
                except TimeoutError:
                    if not await asyncio.to_thread(lease.acquire, self.clock()):
                        raise RuntimeError("lost the digest lease to another process") from None

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(running):
                    group.create_task(worker())
                if lease is not None and running:
                    group.create_task(keep_lease(lease))
        except* FloodWait as waits:
            wait = waits.exceptions[0]
            assert isinstance(wait, FloodWait)
            report.flood_wait = wait.seconds
            log.error("%s: digests stop until it is over", wait)
        except* Exception as failures:
            # The lease lost, or the database gone: the run stops, its chats stay due.
            report.error = "; ".join(str(error) for error in failures.exceptions)
            log.error("the digest run stopped: %s", report.error, exc_info=failures)
        report.messages = counters.sent - before[0]
        report.throttled = counters.throttled - before[1]
        report.retried = counters.retried - before[2]
        report.seconds = time.monotonic() - clock_start
        return report

    def flood_wait_until(self) -> datetime | None:
        """The end of a long flood wait Telegram imposed, while it lasts."""
        with self.sessions() as session:
            return schedule.flood_wait_until(session, self.clock())

    async def note_flood_wait(self, seconds: float) -> None:
        """Remember a long flood wait, for /stats, the health check and the next run."""
        if seconds < 60:
            return
        now = self.clock()
        until = (now + timedelta(seconds=seconds)).isoformat()
        await self._write(schedule.set_state, schedule.FLOOD_WAIT_UNTIL, until, now)
