"""What the chat commands answer, as data: bot/service.py returns these records and
bot/render.py alone turns them into Telegram HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.queries import Stats


@dataclass(frozen=True, slots=True)
class BotStats:
    """What /stats shows: the store's figures, the failing sources (location, error) and
    the state of the scheduled runs."""

    figures: Stats
    due: int
    last_ingest: str | None
    # When the last digest run ended, and its summary.
    last_run: tuple[datetime, str] | None
    flood_until: datetime | None
    failing: list[tuple[str, str]]
