"""What the chat commands answer, as data: bot/service.py returns these records and
bot/render.py alone turns them into Telegram HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal

from bot.keywords import Count, Keyword
from bot.records import Paper
from storage.counts import Stats


@dataclass(frozen=True, slots=True)
class Chat:
    """The chat a command is about (where it was sent, or the channel it names)."""

    id: int
    type: str
    title: str | None = None
    thread_id: int | None = None

    @property
    def name(self) -> str:
        """How a reply names the chat: its title, else "this chat" (a private chat is
        "you", which replies address directly instead: see render.whose)."""
        return self.title or ("this chat" if self.type != "private" else "you")

    @property
    def private(self) -> bool:
        return self.type == "private"


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """What /settings shows of a chat's subscription."""

    state: str  # "active", "paused" or "inactive"
    schedule: str  # as Schedule.describe() says it: "daily", "weekly on Friday"
    at: time
    timezone: str
    notify_empty: bool
    recommend: bool
    keywords: list[str]
    delivered: int


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


@dataclass(frozen=True, slots=True)
class Planned:
    """A paper a reply carries: its row id (what its feedback buttons name), the paper, and
    why it is there ("matched GNN (title)"), if a reason is shown."""

    paper_id: int
    paper: Paper
    why: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """A chat's digest: the keyword matches to send now (of `matching` unsent ones; the
    rest wait for the "N more" button), then the papers recommended for it.
    `subscriber_id` None: the chat has no subscription."""

    matches: list[Planned]
    matching: int
    subscriber_id: int | None = None
    thread_id: int | None = None
    # The chat asked to hear "nothing new today" on empty days (and has keywords).
    notify_empty: bool = False
    recommended: list[Planned] = field(default_factory=list)
    # A weekly schedule's digest: the week's matches ("this week"), not the day's.
    weekly: bool = False

    @property
    def more(self) -> int:
        """The matches left for the "N more" button."""
        return self.matching - len(self.matches)

    @property
    def paper_ids(self) -> list[int]:
        return [p.paper_id for p in [*self.matches, *self.recommended]]


@dataclass(frozen=True, slots=True)
class SourcesReply:
    """What /sources did: added or removed `location`, refused to add it, found it not
    among the added ones, refused a location that is no URL or an unknown action, or
    listed the sources (those
    configured, those added with /sources add)."""

    done: Literal["added", "refused", "removed", "not added", "not a url", "usage", "listed"]
    location: str = ""
    # Why a location was refused (a private address, a host that does not resolve).
    reason: str = ""
    configured: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Timing:
    """When a chat's digests come (`schedule` as Schedule.describe() says it), and at `now`
    the next one (None: digests are paused, or the chat is not stored)."""

    schedule: str
    at: time
    timezone: str
    next_at: datetime | None
    now: datetime


@dataclass(frozen=True, slots=True)
class Welcome:
    """What /start shows: when digests come, and the chat's keywords."""

    chat: Chat
    timing: Timing
    keywords: list[str]


@dataclass(frozen=True, slots=True)
class Subscribed:
    """What /subscribe, /follow or an import's keywords did: a usage or refusal of the
    whole list, or the keywords added, already there, refused and questioned, with what
    the added ones match now among `papers` stored ones and when the next digest comes."""

    done: Literal["usage", "follow usage", "follow filter", "too long", "too many", "added"]
    chat: Chat
    # "too long": the first keyword too long to keep; "too many": how many there are.
    too_long: str = ""
    present: int = 0
    added: list[Keyword] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: list[tuple[Keyword, str]] = field(default_factory=list)
    questioned: list[tuple[Keyword, list[str]]] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)
    papers: int = 0
    newest: bool = False  # `papers` are the newest ones, not all that are stored
    timing: Timing | None = None  # the chat's, once keywords were added
    next_step: bool = False  # say what to try now (/subscribe, not /import)


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """What /unsubscribe KEYWORD did: no keywords to remove, `keyword` is not among them,
    or it was removed (`keyword` as it was stored)."""

    done: Literal["none", "missing", "removed"]
    keyword: str


@dataclass(frozen=True, slots=True)
class SettingReply:
    """What a setting command did: showed its usage (and the chat's timing, for
    /schedule), found `value` no schedule or time zone (with `suggestions`), or set it
    (`value`: the time zone set, or "on"/"off")."""

    command: Literal["time", "schedule", "timezone", "pause", "resume", "nothingnew", "recommend"]
    done: Literal["usage", "unknown", "set"]
    timing: Timing | None = None
    value: str = ""
    suggestions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Restored:
    """What an import restored, and how many of its papers are not stored here."""

    ratings: int
    saved: int
    library: int
    missing: int


@dataclass(frozen=True, slots=True)
class Imported:
    """What /import did: refused the document (`refused`), or applied its settings, its
    keywords and its ratings, saved papers and library."""

    refused: Literal["", "not json", "not an export", "bad keywords"] = ""
    settings: list[SettingReply] = field(default_factory=list)
    keywords: Subscribed | None = None
    restored: Restored | None = None


# Why /digest sent nothing: no new papers for the keywords; no keywords, and none of the
# papers recommended from the chat's ratings and saved ones is new; no keywords at all.
NothingToSend = Literal["nothing new", "nothing recommended", "no keywords"]
