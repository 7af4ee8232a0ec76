"""When a subscriber's daily digest is due: pure date arithmetic in the subscriber's time zone.

A digest is due at the subscriber's wall-clock time every local day, whatever the UTC offset
that day. On the day clocks spring forward past that time, it is due when they jump; on the
day they fall back over it, at its first occurrence only. At most one digest per local day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


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


def next_digest(now: datetime, timezone: str, at: time, last_day: date | None) -> datetime:
    """The next scheduled digest after `now`, skipping local days that already had one."""
    day = local_day(now, timezone)
    if last_day is not None and last_day >= day:
        day = last_day + timedelta(days=1)
    instant = digest_instant(day, at, timezone)
    if instant <= now:
        # Today's time has passed (a new subscriber, or a changed /time): from tomorrow.
        instant = digest_instant(day + timedelta(days=1), at, timezone)
    return instant
