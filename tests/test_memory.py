"""What a digest run reads stays within its candidates, however large the library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.records import Paper
from storage import queries, subscriptions
from storage.models import PaperRow

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_a_weekly_digest_asks_the_dates_of_its_matches_only(
    sessions: sessionmaker[Session],
) -> None:
    """A week that brought a whole import of papers is not read into memory to plan each
    weekly digest: only the matched candidates' dates are asked for."""
    with sessions.begin() as session:
        queries.store_papers(session, [Paper("Old Pruning", "pruning")], NOW - timedelta(days=8))
        week = [Paper(f"Study {n}", "pruning") for n in range(700)]
        queries.store_papers(session, week, NOW - timedelta(days=2))
    with sessions() as session:
        ids = list(session.scalars(select(PaperRow.id).order_by(PaperRow.id)))
        # More ids than one IN list takes, on both databases.
        among = ids[:1] + ids[-600:]
        found = subscriptions.first_seen_since(session, NOW - timedelta(days=7), among)
    assert found == set(ids[-600:])
