"""The digest schedule: local times across time zones and daylight-saving changes, one digest
per local day, and catching up a run missed while the bot was down. The scheduler runs on a
controllable clock against the local Bot API, through the real sending path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot import ingest, metrics, render, service
from bot.config import Settings
from bot.devserver import FakeBotApi
from bot.devserver.limits import RateLimits
from bot.digests import NOTHING_NEW, Digests
from bot.records import Paper, ParsedPage
from bot.schedule import digest_instant, local_day, next_digest, zone
from bot.scheduler import Scheduler, backing_off, make_sender
from bot.sources import parse_page
from storage import queries, subscriptions, vectors
from tests.httpserver import Reply, serve
from tests.telegram_helpers import TOKEN, bot_api_spec

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
TOKYO = "Asia/Tokyo"
LORD_HOWE = "Australia/Lord_Howe"  # a half-hour daylight-saving change

# 2026: the US springs forward on 8 March and falls back on 1 November; the EU on 29 March
# and 25 October.
US_SPRING, US_FALL = date(2026, 3, 8), date(2026, 11, 1)


def at(day: date, hour: int, minute: int, timezone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone(timezone)).astimezone(UTC)


def test_a_usual_day_is_the_wall_clock_time_in_the_zone() -> None:
    assert digest_instant(date(2026, 7, 1), time(8), BERLIN) == datetime(2026, 7, 1, 6, tzinfo=UTC)
    assert digest_instant(date(2026, 1, 5), time(8), BERLIN) == datetime(2026, 1, 5, 7, tzinfo=UTC)
    assert digest_instant(date(2026, 1, 5), time(8), TOKYO) == datetime(2026, 1, 4, 23, tzinfo=UTC)


def test_a_time_the_clocks_skip_is_due_when_they_jump() -> None:
    # 02:30 does not exist in New York on 8 March: 01:59 EST is followed by 03:00 EDT.
    moment = digest_instant(US_SPRING, time(2, 30), NEW_YORK)
    assert moment == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert moment.astimezone(zone(NEW_YORK)).time() == time(3, 0)
    # Lord Howe springs forward half an hour at 02:00 on 4 October 2026.
    skipped = digest_instant(date(2026, 10, 4), time(2, 10), LORD_HOWE)
    assert skipped.astimezone(zone(LORD_HOWE)).time() == time(2, 30)


def test_a_time_that_happens_twice_is_due_the_first_time() -> None:
    moment = digest_instant(US_FALL, time(1, 30), NEW_YORK)
    assert moment == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not 01:30 EST


def test_next_digest_skips_days_that_had_one() -> None:
    now = at(date(2026, 5, 4), 7, 0, BERLIN)
    assert next_digest(now, BERLIN, time(8), None) == at(date(2026, 5, 4), 8, 0, BERLIN)
    # Sent today already (say, by a catch-up at 07:00): tomorrow.
    today = date(2026, 5, 4)
    assert next_digest(now, BERLIN, time(8), today) == at(date(2026, 5, 5), 8, 0, BERLIN)
    # A new subscriber after today's time: tomorrow, not at once.
    later = at(today, 9, 0, BERLIN)
    assert next_digest(later, BERLIN, time(8), None) == at(date(2026, 5, 5), 8, 0, BERLIN)
    # Across the spring change the wall clock time stays 08:00 (the UTC hour moves).
    spring = at(date(2026, 3, 28), 9, 0, BERLIN)
    following = next_digest(spring, BERLIN, time(8), date(2026, 3, 28))
    assert following == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert local_day(following, BERLIN) == date(2026, 3, 29)


def test_an_unknown_zone_name_falls_back_to_utc() -> None:
    assert digest_instant(date(2026, 1, 1), time(8), "Mars/Olympus") == datetime(
        2026, 1, 1, 8, tzinfo=UTC
    )


def test_a_failing_source_backs_off_exponentially() -> None:
    now = datetime(2026, 5, 4, 12, tzinfo=UTC)
    hour = timedelta(hours=1)
    failures = {
        "once": (1, now - 55 * timedelta(minutes=1)),  # retried on the next hourly run
        "twice": (2, now - hour),  # waits two hours
        "often": (10, now - 20 * hour),  # capped at a day
        "long ago": (10, now - 25 * hour),
    }
    assert backing_off(failures, now, hour) == {"twice", "often"}


# --- the scheduler on a controllable clock -------------------------------------------------


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    api: FakeBotApi
    scheduler: Scheduler
    clock: Clock
    sessions: sessionmaker[Session]
    received: dict[int, list[datetime]]  # chat -> when each digest message arrived

    async def run_until(self, end: datetime, step: timedelta = timedelta(minutes=15)) -> None:
        """Tick every `step` up to `end`, as the running bot would; note what arrives when."""
        while self.clock.now < end:
            self.clock.now += step
            await self.tick()

    async def tick(self) -> None:
        before = {chat: len(self.api.sent(chat)) for chat in self.received}
        await self.scheduler.deliver_due()
        for chat, count in before.items():
            arrived = len(self.api.sent(chat)) - count
            self.received[chat] += [self.clock.now] * arrived

    def subscribe(self, chat: int, timezone: str, hour: int, minute: int = 0) -> None:
        self.api.add_user(chat, f"user {chat}")
        with self.sessions.begin() as session:
            row = subscriptions.enroll(session, chat, "private", self.clock.now)
            subscriptions.add_keywords(row, ["pruning"])
            subscriptions.set_schedule(row, timezone=timezone, at=time(hour, minute))
            row.notify_empty = True  # so every day shows as one message
        self.received[chat] = []

    def local_days(self, chat: int, timezone: str) -> list[date]:
        return [local_day(moment, timezone) for moment in self.received[chat]]


@pytest.fixture
async def world(sessions: sessionmaker[Session], db_url: str) -> AsyncIterator[World]:
    api = FakeBotApi(bot_api_spec(), limits=RateLimits(private_chat=None))
    api.start()
    clock = Clock(datetime(2026, 3, 6, 0, 0, tzinfo=UTC))
    with sessions.begin() as session:
        queries.store_papers(session, [Paper("Pruning at Scale", "We prune.")], clock.now)
    settings = Settings(
        database_url=db_url,
        bot_token=SecretStr(TOKEN),
        bot_api_url=api.base_url.removesuffix("/bot"),
        sources=[],
    )
    digests = Digests(sessions, make_sender(settings), 10, clock=clock)
    scheduler = Scheduler(sessions, settings, digests, clock=clock)
    try:
        yield World(api, scheduler, clock, sessions, {})
        assert api.violations == []
        assert api.rejected == []
    finally:
        await digests.sender.close()
        api.stop()


async def test_each_zone_gets_one_digest_a_day_at_its_local_time(world: World) -> None:
    world.subscribe(1, BERLIN, 8)
    world.subscribe(2, NEW_YORK, 2, 30)  # the hour skipped on 8 March
    world.subscribe(3, TOKYO, 8)
    world.subscribe(4, NEW_YORK, 8)
    await world.run_until(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))

    days = [
        date(2026, 3, 6),
        date(2026, 3, 7),
        date(2026, 3, 8),
        date(2026, 3, 9),
        date(2026, 3, 10),
    ]
    assert world.local_days(1, BERLIN) == days
    assert [m.astimezone(zone(BERLIN)).time() for m in world.received[1]] == [time(8)] * 5
    # New York at 02:30: on the change day, when the clocks jump to 03:00.
    assert world.local_days(2, NEW_YORK) == days
    shown = [m.astimezone(zone(NEW_YORK)).time() for m in world.received[2]]
    assert shown == [time(2, 30), time(2, 30), time(3, 0), time(2, 30), time(2, 30)]
    # 08:00 in New York stays 08:00 after the change, one hour earlier in UTC.
    assert [m.astimezone(zone(NEW_YORK)).time() for m in world.received[4]] == [time(8)] * 5
    assert [m.hour for m in world.received[4]] == [13, 13, 12, 12, 12]
    # Tokyo's 8 o'clock on the 6th was before the clock started: its days are the 7th on.
    assert world.local_days(3, TOKYO) == days[1:]
    # Every chat saw the papers once, then a "nothing new" note on each later day.
    notes = [m.shown for m in world.api.sent(1)]
    assert "Pruning at Scale" in notes[0]
    assert notes[1:] == [NOTHING_NEW] * 4


async def test_the_hour_that_happens_twice_sends_once(world: World) -> None:
    world.clock.now = datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
    world.subscribe(5, NEW_YORK, 1, 30)
    await world.run_until(datetime(2026, 11, 2, 12, 0, tzinfo=UTC), step=timedelta(minutes=10))
    assert world.local_days(5, NEW_YORK) == [
        date(2026, 10, 31),
        date(2026, 11, 1),
        date(2026, 11, 2),
    ]
    assert world.received[5][1] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


async def test_a_run_missed_while_down_is_caught_up_once(world: World) -> None:
    world.subscribe(6, BERLIN, 8)
    await world.run_until(datetime(2026, 3, 6, 12, 0, tzinfo=UTC))
    assert len(world.received[6]) == 1
    # Down from noon on the 6th until 15:00 on the 9th: three digests were missed.
    world.clock.now = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    await world.tick()
    assert world.local_days(6, BERLIN) == [date(2026, 3, 6), date(2026, 3, 9)]
    # The catch-up was the 9th's digest: nothing more that day, the next on the 10th at 08:00.
    await world.run_until(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    assert world.local_days(6, BERLIN)[-1] == date(2026, 3, 10)
    assert world.received[6][-1] == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert len(world.received[6]) == 3


async def test_changing_the_time_reschedules_without_a_second_digest(world: World) -> None:
    world.subscribe(7, BERLIN, 8)
    await world.run_until(datetime(2026, 3, 6, 9, 0, tzinfo=UTC))
    assert len(world.received[7]) == 1
    with world.sessions.begin() as session:
        row = subscriptions.find(session, 7)
        assert row is not None
        subscriptions.set_schedule(row, at=time(18, 0))  # later the same day
    await world.run_until(datetime(2026, 3, 7, 20, 0, tzinfo=UTC))
    # Not again on the 6th at 18:00 (it had its digest that day), then the 7th at 18:00.
    assert world.received[7][1:] == [datetime(2026, 3, 7, 17, 0, tzinfo=UTC)]


async def test_paused_and_gone_chats_get_nothing_and_resume_without_a_backlog(
    world: World,
) -> None:
    world.subscribe(8, BERLIN, 8)
    world.subscribe(9, BERLIN, 8)
    with world.sessions.begin() as session:
        paused = subscriptions.find(session, 8)
        assert paused is not None
        subscriptions.set_paused(paused, True)
    world.api.chat(9).blocked = True
    await world.run_until(datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    assert world.received[8] == []
    assert world.received[9] == []
    with world.sessions() as session:
        gone = subscriptions.find(session, 9)
        assert gone is not None
        assert not gone.active
    with world.sessions.begin() as session:
        row = subscriptions.find(session, 8)
        assert row is not None
        subscriptions.set_paused(row, False)
    await world.run_until(datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
    # Resumed at noon on the 8th: the next digest is the 9th's, not one for each day missed.
    assert world.received[8] == [datetime(2026, 3, 9, 7, 0, tzinfo=UTC)]


async def test_scheduled_ingest_backs_off_a_failing_source(world: World, tmp_path: Path) -> None:
    good = tmp_path / "page.txt"
    good.write_bytes((Path(__file__).parents[1] / "bot/data/sample_page.txt").read_bytes())
    missing = tmp_path / "gone.txt"
    world.scheduler.settings = world.scheduler.settings.model_copy(
        update={"sources": [str(good), str(missing)], "ingest_interval": 3600.0}
    )
    first = await world.scheduler.ingest()
    assert [r.status for r in first] == ["ingested", "failed"]
    # An hour later the failed source is tried again (one failure: one interval)...
    world.clock.now += timedelta(hours=1)
    second = await world.scheduler.ingest()
    assert [(r.source, r.status) for r in second] == [
        (str(good), "unchanged"),
        (str(missing), "failed"),
    ]
    # ...after two failures it sits out the next run, and comes back the one after.
    world.clock.now += timedelta(hours=1)
    assert [r.source for r in await world.scheduler.ingest()] == [str(good)]
    world.clock.now += timedelta(hours=1)
    assert [r.source for r in await world.scheduler.ingest()] == [str(good), str(missing)]


async def test_scheduled_ingest_records_any_error_and_labels_without_credentials(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "page.txt"
    good.write_bytes((Path(__file__).parents[1] / "bot/data/sample_page.txt").read_bytes())
    buggy = tmp_path / "buggy.txt"
    buggy.write_bytes(good.read_bytes() + b" ")
    # Nothing listens on port 9: the fetch fails at once.
    secret = "http://bob:hunter2@127.0.0.1:9/feed?apikey=K3Y"
    world.scheduler.settings = world.scheduler.settings.model_copy(
        update={"sources": [str(buggy), secret, str(good)], "http_retries": 0}
    )

    def parse(data: bytes) -> ParsedPage:
        if data.endswith(b" "):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return parse_page(data)

    monkeypatch.setattr(ingest, "parse_page", parse)
    reports = await world.scheduler.ingest()
    assert [r.status for r in reports] == ["failed", "failed", "ingested"]
    assert (reports[0].error or "").startswith("unexpected error: UnicodeEncodeError")
    with world.sessions() as session:
        assert set(queries.failures_since(session, [str(buggy), secret])) == {str(buggy), secret}
    labels = {
        sample.labels["source"]
        for family in metrics.PAPERS_INGESTED.collect()
        for sample in family.samples
    }
    assert "http://***@127.0.0.1:9/feed?apikey=***" in labels
    assert not any("hunter2" in label or "K3Y" in label for label in labels)


async def test_scheduled_ingest_keeps_chat_added_sources_outside(world: World) -> None:
    page = (Path(__file__).parents[1] / "bot/data/sample_page.txt").read_bytes()
    with serve({"/chat": Reply(body=page), "/operator": Reply(body=page)}) as local:
        chat, operator = local.url("/chat"), local.url("/operator")
        with world.sessions.begin() as session:
            queries.schedule_source(session, chat, True)
        # The operator's own sources are trusted; what an admin added from chat is not.
        world.scheduler.settings = world.scheduler.settings.model_copy(
            update={"sources": [operator]}
        )
        first = await world.scheduler.ingest()
        assert [(r.source, r.status) for r in first] == [(operator, "ingested"), (chat, "failed")]
        assert "127.0.0.1 is a loopback address" in (first[1].error or "")
        assert local.count("/chat") == 0
        world.scheduler.settings = world.scheduler.settings.model_copy(
            update={"allow_private_sources": True}
        )
        world.clock.now += timedelta(hours=1)
        await world.scheduler.ingest()
        assert local.count("/chat") == 1


async def test_stats_show_the_schedule_and_a_long_flood_wait(world: World) -> None:
    world.subscribe(10, BERLIN, 8)
    await world.run_until(datetime(2026, 3, 6, 8, 0, tzinfo=UTC))
    await world.scheduler.digests.note_flood_wait(7200)
    with world.sessions() as session:
        text = "\n".join(render.stats(service.stats(session, world.clock.now)))
    assert "Last digest run: 2026-03-06 07:00: 1 chat (1 delivered)" in text
    assert "⚠ Telegram flood wait: no digests until 2026-03-06 10:00 UTC" in text
    # While it lasts, the scheduler does not send.
    world.subscribe(11, BERLIN, 9)
    world.clock.now = datetime(2026, 3, 6, 8, 30, tzinfo=UTC)
    assert await world.scheduler.deliver_due() is None
    assert world.received[11] == []


async def test_a_digest_telegram_kept_refusing_is_tried_again_ten_minutes_later(
    world: World,
) -> None:
    world.subscribe(12, BERLIN, 8)
    world.scheduler.digests.sender.backoff = 0.01
    world.api.inject("sendMessage", times=world.scheduler.digests.sender.retries + 1, status=500)
    await world.run_until(datetime(2026, 3, 6, 7, 0, tzinfo=UTC))
    assert world.received[12] == []  # 08:00 in Berlin: every attempt failed
    await world.run_until(datetime(2026, 3, 6, 7, 5, tzinfo=UTC), step=timedelta(minutes=1))
    assert world.received[12] == []  # not hammered on every tick
    await world.run_until(datetime(2026, 3, 6, 7, 15, tzinfo=UTC), step=timedelta(minutes=1))
    assert world.received[12] == [datetime(2026, 3, 6, 7, 10, tzinfo=UTC)]
    assert world.local_days(12, BERLIN) == [date(2026, 3, 6)]


@pytest.mark.backends("sqlite")  # storing vectors is tested on both in test_recommend_vectors
async def test_scheduled_ingest_makes_the_new_papers_sentence_vectors(
    world: World, tmp_path: Path, sentence_model: Path
) -> None:
    page = tmp_path / "page.txt"
    page.write_bytes((Path(__file__).parents[1] / "bot/data/sample_page.txt").read_bytes())
    world.scheduler.settings = world.scheduler.settings.model_copy(update={"sources": [str(page)]})
    with world.sessions() as session:
        ids = [i for i, _ in subscriptions.newest_papers(session, 100)]
        assert vectors.without(session, ids) == ids
    [report] = await world.scheduler.ingest()
    assert report.new > 0
    with world.sessions() as session:
        ids = [i for i, _ in subscriptions.newest_papers(session, 100)]
        assert len(ids) == report.new + 1
        # Every paper has its vector, the one stored before this ingest included.
        assert vectors.without(session, ids) == []
