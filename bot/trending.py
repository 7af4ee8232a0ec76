"""/trending: the most upvoted new papers. Pure ranking of what storage.feedback.approvals
finds.

A paper's score is its Hugging Face upvotes plus, once at least MIN_CHATS different chats
of this bot liked (👍) or saved (🔖) it, one point per such chat: a chat's approval weighs
as much as an upvote, and fewer than MIN_CHATS chats add nothing, so no reader can tell
from the list what one or two chats did. Who approved is never shown, only how many.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.feedback import Approval

MIN_CHATS = 3
TOP = 10
PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7)}
DEFAULT_PERIOD = "week"


@dataclass(frozen=True, slots=True)
class Trend:
    approval: Approval
    score: int

    @property
    def chats(self) -> int:
        return counted_chats(self.approval)


def period(text: str) -> str | None:
    """ "day" or "week" from the command's argument ("" -> the default); None if neither."""
    word = text.strip().casefold() or DEFAULT_PERIOD
    return word if word in PERIODS else None


def since(now: datetime, name: str) -> datetime:
    return now - PERIODS[name]


def counted_chats(approval: Approval) -> int:
    """The chats that liked or saved the paper, if they count: none below MIN_CHATS."""
    return approval.chats if approval.chats >= MIN_CHATS else 0


def score(approval: Approval) -> int:
    return max(0, approval.upvotes) + counted_chats(approval)


def rank(approvals: Iterable[Approval], top: int = TOP) -> list[Trend]:
    """The `top` papers by score; ties go to more upvotes, then to the newer paper."""
    scored = [Trend(a, score(a)) for a in approvals]
    scored = [t for t in scored if t.score > 0]
    scored.sort(key=lambda t: (-t.score, -t.approval.upvotes, -t.approval.paper_id))
    return scored[:top]
