"""Schedules: daily, weekdays, weekly DAY. Which local days have a digest (pure, across DST
changes and month and year ends), the week's papers in a weekly digest, the configured
default, and /schedule end to end: the real python-telegram-bot stack against the local Bot
API, with the scheduler on a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from telegram.ext import Application

from bot import cli, render, service
from bot.config import Settings
from bot.devserver import FakeBotApi
from bot.devserver.limits import RateLimits
from bot.digests import NOTHING_NEW_THIS_WEEK, Digests
from bot.records import Paper
from bot.replies import Chat
from bot.schedule import DAILY, Schedule, local_day, next_digest, parse_schedule, zone
from bot.scheduler import Scheduler, make_sender
from storage import queries, subscriptions
from tests import replies
from tests.telegram_helpers import TOKEN, bot_api_spec, running_bot
from tests.test_schedule import Clock

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKDAYS = Schedule("weekdays")


def at(day: date, hour: int, minute: int, timezone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone(timezone)).astimezone(UTC)


def weekly(day: int) -> Schedule:
    return Schedule("weekly", day)


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("daily", DAILY),
        (" Weekdays ", WEEKDAYS),
        ("weekly", weekly(MON)),
        ("weekly fri", weekly(FRI)),
        ("WEEKLY Friday", weekly(FRI)),
        ("weekly sun", weekly(SUN)),
        ("weekly wednesday", weekly(WED)),
    ],
)
def test_schedules_are_read_case_insensitively(text: str, expected: Schedule) -> None:
    assert parse_schedule(text) == expected
    assert parse_schedule(expected.stored) == expected  # what is stored reads back


@pytest.mark.parametrize(
    "text", ["", "fortnightly", "weekly fr", "weekly friday monday", "daily fri", "friday"]
)
def test_anything_else_is_not_a_schedule(text: str) -> None:
    assert parse_schedule(text) is None


def test_the_default_schedule_is_validated_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Settings(default_schedule="Weekly FRI").default_schedule == "weekly friday"
    assert Settings().default_schedule == "daily"
    with pytest.raises(ValidationError):
        Settings(default_schedule="weekly someday")
    monkeypatch.setenv("PAPERBOY_DEFAULT_SCHEDULE", "fortnightly")
    assert cli.main(["stats"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("paperboy: bad configuration: PAPERBOY_DEFAULT_SCHEDULE: expected")
    assert "weekly [DAY]" in error


# --- which days, pure --------------------------------------------------------------------------


def test_daily_is_as_before() -> None:
    now = at(date(2026, 5, 4), 7, 0, BERLIN)
    assert next_digest(now, BERLIN, time(8), None) == next_digest(now, BERLIN, time(8), None, DAILY)


def test_weekdays_skip_the_weekend() -> None:
    friday = date(2026, 5, 8)
    assert friday.weekday() == FRI
    # Friday's digest sent: the next one is Monday's, not Saturday's.
    after = at(friday, 8, 5, BERLIN)
    assert next_digest(after, BERLIN, time(8), friday, WEEKDAYS) == at(
        date(2026, 5, 11), 8, 0, BERLIN
    )
    # Subscribed on a Saturday: Monday.
    saturday = at(date(2026, 5, 9), 6, 0, BERLIN)
    assert next_digest(saturday, BERLIN, time(8), None, WEEKDAYS) == at(
        date(2026, 5, 11), 8, 0, BERLIN
    )
    # Before Friday's time on Friday: today.
    before = at(friday, 7, 0, BERLIN)
    assert next_digest(before, BERLIN, time(8), None, WEEKDAYS) == at(friday, 8, 0, BERLIN)


def test_weekdays_across_the_us_spring_change() -> None:
    # The US springs forward on Sunday 8 March 2026: Friday 08:00 is 13:00 UTC, Monday's 12:00.
    friday = date(2026, 3, 6)
    nxt = next_digest(at(friday, 9, 0, NEW_YORK), NEW_YORK, time(8), friday, WEEKDAYS)
    assert nxt == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    assert nxt.astimezone(zone(NEW_YORK)).time() == time(8)


@pytest.mark.parametrize(
    ("now_day", "day", "expected"),
    [
        (date(2026, 7, 29), TUE, date(2026, 8, 4)),  # across a month end
        (date(2026, 12, 30), FRI, date(2027, 1, 1)),  # across the year end
        (date(2026, 12, 30), MON, date(2027, 1, 4)),
        (date(2027, 2, 26), MON, date(2027, 3, 1)),  # February of a common year
        (date(2028, 2, 28), TUE, date(2028, 2, 29)),  # a leap day
    ],
)
def test_weekly_across_month_and_year_ends(now_day: date, day: int, expected: date) -> None:
    now = at(now_day, 12, 0, BERLIN)
    assert next_digest(now, BERLIN, time(8), None, weekly(day)) == at(expected, 8, 0, BERLIN)


def test_weekly_on_its_own_day() -> None:
    friday = date(2026, 5, 8)
    # Before the time: today. After it, or once sent today: a week later.
    assert next_digest(at(friday, 7, 0, BERLIN), BERLIN, time(8), None, weekly(FRI)) == at(
        friday, 8, 0, BERLIN
    )
    later = date(2026, 5, 15)
    assert next_digest(at(friday, 9, 0, BERLIN), BERLIN, time(8), None, weekly(FRI)) == at(
        later, 8, 0, BERLIN
    )
    assert next_digest(at(friday, 7, 0, BERLIN), BERLIN, time(8), friday, weekly(FRI)) == at(
        later, 8, 0, BERLIN
    )


def test_weekly_on_the_days_the_clocks_change() -> None:
    # Europe springs forward on Sunday 29 March 2026 at 02:00: 02:30 does not exist, so a
    # Sunday digest at 02:30 comes when the clocks jump to 03:00 (01:00 UTC), that day.
    spring = next_digest(
        at(date(2026, 3, 25), 12, 0, BERLIN), BERLIN, time(2, 30), None, weekly(SUN)
    )
    assert spring == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert spring.astimezone(zone(BERLIN)).time() == time(3, 0)
    # The week after, 02:30 CEST again.
    following = next_digest(spring, BERLIN, time(2, 30), date(2026, 3, 29), weekly(SUN))
    assert following == datetime(2026, 4, 5, 0, 30, tzinfo=UTC)
    # Europe falls back on Sunday 25 October: 02:30 happens twice; the first one counts.
    fall = next_digest(
        at(date(2026, 10, 22), 12, 0, BERLIN), BERLIN, time(2, 30), None, weekly(SUN)
    )
    assert fall == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, not CET
    # New York falls back on Sunday 1 November: 01:30 EDT (05:30 UTC), once.
    ny = next_digest(
        at(date(2026, 10, 30), 12, 0, NEW_YORK), NEW_YORK, time(1, 30), None, weekly(SUN)
    )
    assert ny == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # Sent at the first 01:30: the second 01:30 (06:30 UTC) is the same local day, so no.
    again = next_digest(
        datetime(2026, 11, 1, 6, 15, tzinfo=UTC),
        NEW_YORK,
        time(1, 30),
        date(2026, 11, 1),
        weekly(SUN),
    )
    assert again == datetime(2026, 11, 8, 6, 30, tzinfo=UTC)


# --- a weekly digest's papers ------------------------------------------------------------------

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
ME = Chat(42, "private")


def test_a_weekly_digest_carries_the_weeks_best_matches_capped(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        queries.store_papers(session, [Paper("Old Pruning", "pruning")], NOW - timedelta(days=8))
        week = [Paper(f"Pruning Study {n}", "pruning", upvotes=n) for n in range(6)]
        queries.store_papers(session, week, NOW - timedelta(days=2))
        replies.subscribe(session, ME, "pruning", NOW)
    with sessions() as session:
        known = service.candidates(session)
        daily = service.digest(session, ME.id, known, 4, now=NOW)
    # A daily digest takes every unsent match, old ones too (as before).
    assert daily.more == 3
    assert "7 new papers</b> for your keywords\n" in render.digest(daily)[0][0][0]
    assert not daily.weekly
    with sessions.begin() as session:
        assert "weekly on Friday" in replies.set_schedule(session, ME, "weekly fri", NOW)
    with sessions() as session:
        plan = service.digest(session, ME.id, known, 4, now=NOW)
    text = render.digest(plan)[0][0][0]
    assert plan.weekly
    assert "📬 <b>4 of 6 new papers</b> for your keywords this week" in text
    assert "Old Pruning" not in text
    # Ranked as a daily digest is: the most upvoted first; the rest behind "2 more".
    assert text.index("Pruning Study 5") < text.index("Pruning Study 4")
    assert plan.more == 2
    # Once-only: what was sent is not sent again; a week later none of these is the week's.
    with sessions.begin() as session:
        subscriptions.record_deliveries(
            session, plan.subscriber_id or 0, render.digest(plan)[0][0][1], NOW
        )
    with sessions() as session:
        rest = service.digest(session, ME.id, known, 4, now=NOW)
        assert "2 new papers</b> for your keywords this week" in render.digest(rest)[0][0][0]
        later = service.digest(session, ME.id, known, 4, now=NOW + timedelta(days=6))
        assert render.digest(later)[0] == []


def test_the_default_schedule_is_given_to_new_subscribers_only(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        replies.start(session, ME, NOW)
    subscriptions.use_default_schedule(sessions, "weekdays")
    with sessions.begin() as session:
        shown = replies.set_schedule(session, Chat(43, "private"), "", NOW)
        assert shown.startswith("Digest on weekdays at 08:00 (UTC).")
        reply = replies.start(session, Chat(43, "private"), NOW)
        assert "on weekdays at 08:00 (UTC)" in reply
        assert "daily at 08:00" in render.settings(ME, service.settings(session, ME))
        assert "on weekdays at 08:00" in render.settings(
            Chat(43, "private"), service.settings(session, Chat(43, "private"))
        )


def test_schedule_replies_and_export(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        shown = replies.set_schedule(session, ME, "", NOW)
        assert "Digest daily at 08:00 (UTC)." in shown
        assert "Usage: <code>/schedule daily, weekdays or weekly [DAY]</code>" in shown
        assert "is not a schedule" in replies.set_schedule(session, ME, "monthly", NOW)
        # NOW is Friday 27 November 2026, 08:00 UTC: the next Friday digest is a week on.
        reply = replies.set_schedule(session, ME, "weekly FRI", NOW)
        assert reply == (
            "Digest weekly on Friday at 08:00 (UTC).\nNext digest: Fri 04 Dec at 08:00 (UTC)."
        )
        assert "weekly on Friday at 07:30" in replies.set_time(session, ME, "07:30", NOW)
        assert "Digest: active, weekly on Friday at 07:30 (UTC)" in render.settings(
            ME, service.settings(session, ME)
        )
        document = service.export(session, ME)
    assert '"schedule": "weekly friday"' in document
    other = Chat(44, "private")
    with sessions.begin() as session:
        reply = replies.import_document(session, other, document, NOW)
        assert "Digest weekly on Friday at 07:30 (UTC)." in reply
        row = subscriptions.find(session, 44)
        assert row is not None
        assert row.schedule == "weekly friday"


def test_a_schedule_change_recomputes_the_next_digest(sessions: sessionmaker[Session]) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday

    def next_at(session: Session) -> datetime | None:
        row = subscriptions.find(session, ME.id)
        assert row is not None
        return row.next_digest_at

    with sessions.begin() as session:
        replies.subscribe(session, ME, "pruning", now)
        replies.set_schedule(session, ME, "weekly thu", now)
        service.due_chats(session, now)
        assert next_at(session) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
        replies.set_schedule(session, ME, "daily", now)
        assert next_at(session) is None  # the scheduler computes it from the new settings
        service.due_chats(session, now)
        assert next_at(session) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
        replies.set_schedule(session, ME, "weekdays", now)
        service.due_chats(session, datetime(2026, 11, 28, 9, 0, tzinfo=UTC))  # a Saturday
        assert next_at(session) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_digest_now_leaves_a_weekly_chat_alone_on_other_days(
    sessions: sessionmaker[Session],
) -> None:
    thursday = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with sessions.begin() as session:
        replies.subscribe(session, ME, "pruning", thursday)
        replies.subscribe(session, Chat(45, "private"), "pruning", thursday)
        replies.set_schedule(session, ME, "weekly fri", thursday)
        service.due_chats(session, thursday)
        assert service.pending_today(session, thursday) == [45]
        friday = thursday + timedelta(days=1)
        assert service.pending_today(session, friday) == [ME.id, 45]


# --- end to end: /schedule weekly fri, then weeks on a controllable clock -----------------------

ALICE, BOB = 1001, 1002
GROUP, CHANNEL = -2001, -1002003


@dataclass
class World:
    api: FakeBotApi
    app: Application  # type: ignore[type-arg]
    scheduler: Scheduler
    clock: Clock
    sessions: sessionmaker[Session]

    async def say(self, user: int, text: str, chat: int | None = None) -> str:
        replies = await self.api.converse(user, text, chat_id=chat)
        return "\n".join(message.shown for message in replies)

    received: list[datetime]  # when (by the clock) each digest message reached Alice

    async def run_until(self, end: datetime, step: timedelta = timedelta(minutes=30)) -> None:
        """Tick every `step` up to `end`, as the running bot would; note what arrives when."""
        while self.clock.now < end:
            self.clock.now += step
            before = len(self.api.sent(ALICE))
            await self.scheduler.deliver_due()
            self.received += [self.clock.now] * (len(self.api.sent(ALICE)) - before)


START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
async def world(sessions: sessionmaker[Session], db_url: str) -> AsyncIterator[World]:
    clock = Clock(START)
    with sessions.begin() as session:
        # Stored more than a week before the first Friday: not that week's news.
        queries.store_papers(
            session, [Paper("Pruning Long Ago", "We prune.")], START - timedelta(days=10)
        )
        queries.store_papers(session, [Paper("Pruning at Scale", "We prune.")], START)
    api = FakeBotApi(bot_api_spec(), limits=RateLimits(private_chat=None, group_chat=None))
    api.start()
    api.add_user(ALICE, "Alice")
    api.add_user(BOB, "Bob")
    api.add_chat(GROUP, "group", "Reading group", members={ALICE: "administrator", BOB: "member"})
    api.add_chat(CHANNEL, "channel", "Papers", username="papers", members={ALICE: "administrator"})
    settings = Settings(
        database_url=db_url,
        bot_token=SecretStr(TOKEN),
        bot_api_url=api.base_url.removesuffix("/bot"),
        sources=[],
    )
    digests = Digests(sessions, make_sender(settings), 10, clock=clock)
    scheduler = Scheduler(sessions, settings, digests, clock=clock)
    try:
        async with running_bot(api, settings, sessions) as app:
            yield World(api, app, scheduler, clock, sessions, [])
    finally:
        await digests.sender.close()


async def test_a_weekly_digest_comes_on_fridays_at_the_local_time_once(world: World) -> None:
    assert "Subscribed to: pruning" in await world.say(ALICE, "/subscribe pruning")
    await world.say(ALICE, f"/timezone {BERLIN}")
    await world.say(ALICE, "/time 07:30")
    await world.say(ALICE, "/nothingnew on")  # so that every digest day shows as a message
    reply = await world.say(ALICE, "/schedule weekly fri")
    assert "Digest weekly on Friday at 07:30 (Europe/Berlin)." in reply
    assert "Next digest: " in reply
    assert "/schedule" in await world.say(ALICE, "/help")
    assert "weekly on Friday at 07:30" in await world.say(ALICE, "/settings")
    shown = await world.say(ALICE, "/schedule")
    assert "Digest weekly on Friday at 07:30 (Europe/Berlin)." in shown
    assert "Usage" in shown
    before = len(world.api.sent(ALICE))

    # Five weeks, across Europe's spring change (Sunday 29 March), a paper stored mid-way.
    await world.run_until(datetime(2026, 3, 16, 0, 0, tzinfo=UTC))
    with world.sessions.begin() as session:
        queries.store_papers(session, [Paper("Pruning Twice", "We prune again.")], world.clock.now)
    await world.run_until(datetime(2026, 4, 5, 0, 0, tzinfo=UTC))

    arrived = world.received
    local = [moment.astimezone(zone(BERLIN)) for moment in arrived]
    fridays = [date(2026, 3, 6), date(2026, 3, 13), date(2026, 3, 20), date(2026, 3, 27)]
    assert [moment.date() for moment in local] == [*fridays, date(2026, 4, 3)]
    assert {moment.time() for moment in local} == {time(7, 30)}
    assert [local_day(m, BERLIN).weekday() for m in arrived] == [FRI] * 5
    texts = [m.shown for m in world.api.sent(ALICE)[before:]]
    assert "new paper for your keywords this week" in texts[0]
    assert "Pruning at Scale" in texts[0]
    assert "Pruning Long Ago" not in texts[0]  # stored before the week
    assert texts[1] == NOTHING_NEW_THIS_WEEK
    assert "Pruning Twice" in texts[2]
    assert texts[3:] == [NOTHING_NEW_THIS_WEEK] * 2


async def test_a_weekly_digest_missed_while_down_comes_once(world: World) -> None:
    await world.say(ALICE, "/subscribe pruning")
    await world.say(ALICE, "/schedule weekly fri")
    await world.run_until(datetime(2026, 3, 6, 12, 0, tzinfo=UTC))
    assert world.received == [datetime(2026, 3, 6, 8, 0, tzinfo=UTC)]
    # Down from then until Tuesday the 24th: two Fridays missed, one digest at restart.
    world.clock.now = datetime(2026, 3, 24, 9, 0, tzinfo=UTC)
    with world.sessions.begin() as session:
        queries.store_papers(session, [Paper("Pruning Anew", "We prune.")], world.clock.now)
    await world.run_until(datetime(2026, 3, 28, 0, 0, tzinfo=UTC))
    assert world.received[1:] == [datetime(2026, 3, 24, 9, 30, tzinfo=UTC)]
    # Nothing new on the 27th (and no note: /nothingnew is off), the next digest on Friday.
    with world.sessions() as session:
        row = subscriptions.find(session, ALICE)
        assert row is not None
        assert row.next_digest_at == datetime(2026, 4, 3, 8, 0, tzinfo=UTC)


async def test_schedule_in_groups_and_channels(world: World) -> None:
    refused = await world.say(BOB, "/schedule weekly", chat=GROUP)
    assert "Only the group's administrators" in refused
    assert "Digest weekly on Monday" in await world.say(ALICE, "/schedule weekly", chat=GROUP)
    reply = await world.say(ALICE, "/schedule @papers weekdays")
    assert "Digest on weekdays at 08:00 (UTC)." in reply
    with world.sessions() as session:
        group = subscriptions.find(session, GROUP)
        channel = subscriptions.find(session, CHANNEL)
        assert group is not None
        assert channel is not None
        assert (group.schedule, channel.schedule) == ("weekly monday", "weekdays")


def test_an_empty_default_schedule_means_daily() -> None:
    # PAPERBOY_DEFAULT_SCHEDULE= (set but empty) is the default, not a configuration error.
    assert Settings(default_schedule="").default_schedule == "daily"
