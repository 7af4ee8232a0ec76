"""When a subscriber's digest is due: pure date arithmetic in the subscriber's time zone.

A digest is due at the subscriber's wall-clock time on each local day its schedule has
(every day, Monday to Friday, or one weekday), whatever the UTC offset that day. On the day
clocks spring forward past that time, it is due when they jump; on the day they fall back
over it, at its first occurrence only. At most one digest per local day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SCHEDULE_USAGE = "daily, weekdays or weekly [DAY]"


@dataclass(frozen=True, slots=True)
class Schedule:
    """Which local days have a digest: every day, Monday to Friday, or one weekday."""

    kind: Literal["daily", "weekdays", "weekly"] = "daily"
    weekday: int = 0  # weekly only: 0 is Monday, as date.weekday() counts

    def has_digest_on(self, day: date) -> bool:
        if self.kind == "weekdays":
            return day.weekday() < 5
        if self.kind == "weekly":
            return day.weekday() == self.weekday
        return True

    @property
    def stored(self) -> str:
        """The form kept in the database and in exports; parse_schedule reads it back."""
        return f"weekly {DAY_NAMES[self.weekday]}" if self.kind == "weekly" else self.kind

    def describe(self) -> str:
        """ "daily", "on weekdays", "weekly on Friday": as settings and replies show it."""
        if self.kind == "weekly":
            return f"weekly on {DAY_NAMES[self.weekday].capitalize()}"
        return "on weekdays" if self.kind == "weekdays" else "daily"


DAILY = Schedule()


def parse_schedule(text: str) -> Schedule | None:
    """ "daily", "weekdays", "weekly", "weekly fri", "Weekly Friday"; None if not one of them."""
    words = text.casefold().split()
    if words in (["daily"], ["weekdays"]):
        return Schedule(words[0])  # type: ignore[arg-type]
    if not words or words[0] != "weekly" or len(words) > 2:
        return None
    if len(words) == 1:
        return Schedule("weekly", 0)  # Monday: the start of the week the digest covers
    for index, name in enumerate(DAY_NAMES):
        if words[1] in (name, name[:3]):
            return Schedule("weekly", index)
    return None


def stored_schedule(text: str | None) -> Schedule:
    """The schedule a subscriber has stored; daily for anything unreadable, so that a bad
    row never stops digests."""
    return parse_schedule(text or "") or DAILY


def utc_now() -> datetime:
    return datetime.now(UTC)


def zone(name: str) -> ZoneInfo:
    """The time zone of a subscriber; UTC for a name this system does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(zone(timezone)).date()


def _exists(wall: datetime) -> bool:
    """False for a wall time the clocks skip (in the gap of a spring-forward change)."""
    there_and_back = wall.astimezone(UTC).astimezone(wall.tzinfo)
    return there_and_back.replace(tzinfo=None) == wall.replace(tzinfo=None)


def digest_instant(day: date, at: time, timezone: str) -> datetime:
    """The UTC instant of `at` on the local `day`; in a gap, the moment the clocks jump."""
    wall = datetime.combine(day, at, tzinfo=zone(timezone))  # fold=0: first occurrence
    while not _exists(wall):
        # Adding to an aware datetime moves its wall clock; gaps start on whole minutes.
        wall = wall.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return wall.astimezone(UTC)


def next_digest(
    now: datetime,
    timezone: str,
    at: time,
    last_day: date | None,
    schedule: Schedule = DAILY,
) -> datetime:
    """The next scheduled digest after `now`: the first local day of the schedule that has
    not had a digest yet and whose time has not passed (a new subscriber, or a changed
    /time or /schedule, starts from the next one, never at once)."""
    day = local_day(now, timezone)
    if last_day is not None and last_day >= day:
        day = last_day + timedelta(days=1)
    # Every schedule has a day in any 7; the 8th covers today's time having passed.
    for offset in range(8):
        candidate = day + timedelta(days=offset)
        if schedule.has_digest_on(candidate):
            instant = digest_instant(candidate, at, timezone)
            if instant > now:
                return instant
    raise AssertionError(f"no digest day in a week for {schedule}")  # pragma: no cover
