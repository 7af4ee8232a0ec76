"""What the chat commands do, as plain functions over a database session: no Telegram I/O.

Digest plans, /latest, /keywords, /settings, /stats, /sources and /trending return data
and the commands that change subscriptions and settings return data (bot/replies.py) that
bot/render.py alone turns into messages. The handlers stay a thin layer that parses a
command and sends the reply.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from rapidfuzz import process
from sqlalchemy.orm import Session, sessionmaker

from bot import filters, keywords, netguard, ranker, recommendations, trending
from bot.matching import Match, Matcher, Matches, learn
from bot.replies import (
    BotStats,
    Chat,
    ChatSettings,
    Digest,
    Imported,
    NothingToSend,
    Planned,
    Restored,
    SettingReply,
    SourcesReply,
    Subscribed,
    Timing,
    Unsubscribed,
    Welcome,
)
from bot.schedule import (
    local_day,
    next_digest,
    parse_schedule,
    stored_schedule,
    utc_now,
)
from bot.trending import Trend
from storage import feedback, queries, schedule, subscriptions
from storage.models import SubscriberRow

# /latest and /digest look at this many of the newest stored papers: digests are about
# what is new, and matching a whole archive on every command would not scale.
CANDIDATES = 2_000
# Sentence vectors a digest run or /similar makes itself (about 0.1 s each): more missing
# means the scheduled ingest is still making them, and the ranker uses words alone till then.
MADE_IN_A_RUN = 64
# A weekly digest is the week's: papers first stored this long before it, not older ones.
WEEK = timedelta(days=7)
EXPORT_FORMAT = "paperboy-subscription/1"
# The characters of an unknown time zone that its suggestions are guessed from.
TIMEZONE_GUESS = 64

_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")
_TIMEZONES = sorted(zoneinfo.available_timezones())
_TIMEZONE_BY_NAME = {zone.casefold(): zone for zone in _TIMEZONES}


# A list pasted with bullets: "- pruning", "• GNN", "* MoE", "1. LoRA", "2) ViT".
_BULLET = re.compile(r"^\s*(?:[-\u2013\u2014*\u2022\u00b7]|\d{1,2}[.)])\s+")
# "GNN -survey": an exclusion after a keyword starts a keyword of its own.
_EXCLUSION_AFTER = re.compile("\\s+(?=[" + keywords.DASHES + "][^\\W_])")


def split_keywords(text: str) -> list[str]:
    """Keywords from "a, b c; -d": commas, semicolons or new lines separate them."""
    lines = [line for line in text.splitlines() if line.strip()]
    # Bullets when every line of a list has one: a single "- survey" is an exclusion.
    if len(lines) > 1 and all(_BULLET.match(line) for line in lines):
        text = "\n".join(_BULLET.sub("", line) for line in lines)
    return [
        " ".join(keyword.split())
        for part in _separated(text)
        for keyword in _EXCLUSION_AFTER.split(part)
        if keyword.strip()
    ]


def _separated(text: str) -> list[str]:
    """The text cut at commas, semicolons and new lines, except inside a filter's quoted
    value: `author:"LeCun, Yann"` is one keyword."""
    inside = filters.spans(text)
    parts, start = [], 0
    for separator in re.finditer(r"[,;\n]", text):
        if not any(a <= separator.start() < b for a, b in inside):
            parts.append(text[start : separator.start()])
            start = separator.end()
    return [*parts, text[start:]]


def _subscriber(session: Session, chat: Chat, now: datetime) -> SubscriberRow:
    return subscriptions.enroll(
        session, chat.id, chat.type, now, title=chat.title, thread_id=chat.thread_id
    )


def _next_at(row: SubscriberRow, now: datetime) -> datetime:
    """The chat's next digest: as scheduled, or as the scheduler will compute it."""
    return row.next_digest_at or next_digest(
        now, row.timezone, row.delivery_time, row.last_digest_on, stored_schedule(row.schedule)
    )


def _timing(row: SubscriberRow, now: datetime) -> Timing:
    return Timing(
        stored_schedule(row.schedule).describe(),
        row.delivery_time,
        row.timezone,
        None if row.paused else _next_at(row, now),
        now,
    )


def start(session: Session, chat: Chat, now: datetime) -> Welcome:
    row = _subscriber(session, chat, now)
    return Welcome(chat, _timing(row, now), subscriptions.keywords(row))


def subscribe(
    session: Session, chat: Chat, text: str, now: datetime, known: Candidates | None = None
) -> Subscribed:
    """Add keywords, cleaned (bot/keywords.py); refuse and question the doubtful ones, and
    say what the added ones match among `known` (the stored papers' candidates) now."""
    return _add_keywords(session, chat, split_keywords(text), now, known, question=True)


def _add_keywords(
    session: Session,
    chat: Chat,
    wanted: Sequence[str],
    now: datetime,
    known: Candidates | None,
    *,
    question: bool,
) -> Subscribed:
    if known is None:
        known = candidates(session)
    # Cleaned first without the papers: questioning a keyword against them costs with its
    # length, and one too long to keep is not worth it (4,000 characters took a second).
    found = keywords.review(wanted, None)
    if not found.typed:
        return Subscribed("usage", chat)
    too_long = [k.stored for k in found.typed if len(k.stored) > keywords.MAX_KEYWORD_LENGTH]
    if too_long:
        return Subscribed("too long", chat, too_long=too_long[0])
    if question:
        found = keywords.review(wanted, known.matcher)
    stored = [k.stored for k in found.accepted]
    row = _subscriber(session, chat, now) if stored else None
    if row is not None:
        present = len(row.keywords)
        fresh = {k.casefold() for k in stored} - {k.keyword.casefold() for k in row.keywords}
        if present + len(fresh) > keywords.MAX_KEYWORDS:
            return Subscribed("too many", chat, present=present)
    added = set(subscriptions.add_keywords(row, stored)) if row is not None else set()
    new = [k for k in found.accepted if k.stored in added]
    counted = row is not None and bool(new)
    return Subscribed(
        "added",
        chat,
        added=new,
        already=[k.stored for k in found.accepted if k.stored not in added],
        refused=found.refused,
        questioned=found.questioned,
        counts=keywords.counts(new, known.matcher) if counted else [],
        papers=len(known.ids),
        newest=len(known.ids) >= CANDIDATES,
        timing=_timing(row, now) if row is not None and counted else None,
        next_step=question,
    )


def follow(
    session: Session, chat: Chat, text: str, now: datetime, known: Candidates | None = None
) -> Subscribed:
    """/follow NAME[, NAME...]: a shortcut for subscribing `author:"NAME"`."""
    names = _names(text)
    if not names:
        return Subscribed("follow usage", chat)
    if any(name[0] in keywords.DASHES or ":" in name for name in names):
        return Subscribed("follow filter", chat)
    wanted = [f'author:"{name}"' for name in names]
    return _add_keywords(session, chat, wanted, now, known, question=False)


# Quotes a phone puts around a name ("Yann LeCun", “Yann LeCun”).
_NAME_QUOTES = "\"'\u201c\u201d\u201e\u00ab\u00bb\u2018\u2019 "


def _names(text: str) -> list[str]:
    """/follow's names, one per line, semicolon or comma; but "LeCun, Yann" (one side a
    single word) is one name written last name first."""
    names: list[str] = []
    for line in re.split(r"[;\n]", text):
        parts = [" ".join(part.strip(_NAME_QUOTES).split()) for part in line.split(",")]
        parts = [part for part in parts if part]
        if len(parts) == 2 and min(len(part.split()) for part in parts) == 1:
            names.append(", ".join(parts))
        else:
            names += parts
    return names


def unsubscribe(session: Session, chat: Chat, keyword: str) -> Unsubscribed:
    row = subscriptions.find(session, chat.id)
    if row is None or not row.keywords:
        return Unsubscribed("none", keyword)
    # As typed, or cleaned as /subscribe cleans it ("pruning." is the keyword "pruning").
    cleaned = keywords.clean(keyword)
    removed = subscriptions.remove_keyword(row, " ".join(keyword.split()))
    if removed is None and cleaned is not None:
        removed = subscriptions.remove_keyword(row, cleaned.stored)
    if removed is None:
        return Unsubscribed("missing", keyword)
    return Unsubscribed("removed", removed)


def keyword_list(session: Session, chat: Chat) -> list[str]:
    """The chat's keywords, as render.keyword_list shows them."""
    row = subscriptions.find(session, chat.id)
    return subscriptions.keywords(row) if row else []


def keyword_ids(session: Session, chat: Chat) -> list[tuple[int, str]]:
    """The chat's keywords with their ids (what /unsubscribe's buttons name), by name."""
    row = subscriptions.find(session, chat.id)
    return sorted(
        ((k.id, k.keyword) for k in row.keywords) if row else [], key=lambda k: k[1].casefold()
    )


def remove_keyword(session: Session, chat: Chat, keyword_id: int) -> str | None:
    """Remove the chat's keyword `keyword_id` (a button's); its text, None if it is gone."""
    return subscriptions.remove_keyword_id(session, chat.id, keyword_id)


def chat_gone(session: Session, chat_id: int) -> None:
    """The chat blocked, kicked or deleted the bot: stop sending to it."""
    subscriptions.deactivate(session, chat_id)


def chat_moved(session: Session, old_chat_id: int, new_chat_id: int) -> None:
    """A group became a supergroup with a new id: its subscription moves with it."""
    subscriptions.migrate(session, old_chat_id, new_chat_id)


def use_default_schedule(sessions: sessionmaker[Session], schedule: str) -> None:
    """New chats enrolled through these sessions get `schedule` (as bot/schedule.py
    stores it)."""
    subscriptions.use_default_schedule(sessions, schedule)


def set_time(session: Session, chat: Chat, text: str, now: datetime) -> SettingReply:
    found = _TIME.match(text.strip())
    if not found:
        return SettingReply("time", "usage")
    at = time(int(found.group(1)), int(found.group(2)))
    row = _subscriber(session, chat, now)
    subscriptions.set_schedule(row, at=at)
    return SettingReply("time", "set", _timing(row, now))


def set_schedule(session: Session, chat: Chat, text: str, now: datetime) -> SettingReply:
    """/schedule daily | weekdays | weekly [DAY]; alone, the current schedule and usage."""
    if not text.strip():
        row = subscriptions.find(session, chat.id)
        if row is None:  # what the chat would get: the configured default, at 08:00 UTC
            default = stored_schedule(session.info.get(subscriptions.DEFAULT_SCHEDULE))
            return SettingReply(
                "schedule", "usage", Timing(default.describe(), time(8), "UTC", None, now)
            )
        return SettingReply("schedule", "usage", _timing(row, now))
    chosen = parse_schedule(text)
    if chosen is None:
        return SettingReply("schedule", "unknown", value=text.strip())
    row = _subscriber(session, chat, now)
    subscriptions.set_schedule(row, days=chosen.stored)
    return SettingReply("schedule", "set", _timing(row, now))


def set_timezone(session: Session, chat: Chat, text: str, now: datetime) -> SettingReply:
    name = text.strip()
    if not name:
        return SettingReply("timezone", "usage")
    exact = _TIMEZONE_BY_NAME.get(name.casefold())
    if exact is None:
        # Fuzzy matching costs the product of the lengths: a zone name is short, and the
        # start of a long text is as good a guess (the 4,000 characters a message may
        # carry cost a second).
        guess = name[:TIMEZONE_GUESS]
        close = [zone for zone, _, _ in process.extract(guess, _TIMEZONES, limit=3)]
        return SettingReply("timezone", "unknown", value=name, suggestions=close)
    row = _subscriber(session, chat, now)
    subscriptions.set_schedule(row, timezone=exact)
    return SettingReply("timezone", "set", _timing(row, now), exact)


def set_paused(session: Session, chat: Chat, paused: bool, now: datetime) -> SettingReply:
    row = _subscriber(session, chat, now)
    subscriptions.set_paused(row, paused)
    return SettingReply("pause" if paused else "resume", "set", _timing(row, now))


def set_notify_empty(session: Session, chat: Chat, text: str, now: datetime) -> SettingReply:
    choice = text.strip().lower()
    if choice not in ("on", "off"):
        return SettingReply("nothingnew", "usage")
    row = _subscriber(session, chat, now)
    row.notify_empty = choice == "on"
    return SettingReply("nothingnew", "set", value=choice)


def set_recommend(session: Session, chat: Chat, text: str, now: datetime) -> SettingReply:
    """/recommend on|off: the digest's "Recommended for you" part; alone, the state."""
    choice = text.strip().lower()
    if choice not in ("on", "off"):
        row = subscriptions.find(session, chat.id)
        state = "on" if row is None or row.recommend else "off"
        return SettingReply("recommend", "usage", value=state)
    row = _subscriber(session, chat, now)
    row.recommend = choice == "on"
    return SettingReply("recommend", "set", value=choice)


def settings(session: Session, chat: Chat) -> ChatSettings | None:
    """The chat's settings; None if nothing is stored about it."""
    row = subscriptions.find(session, chat.id)
    if row is None:
        return None
    return ChatSettings(
        state="paused" if row.paused else ("active" if row.active else "inactive"),
        schedule=stored_schedule(row.schedule).describe(),
        at=row.delivery_time,
        timezone=row.timezone,
        notify_empty=row.notify_empty,
        recommend=row.recommend,
        keywords=subscriptions.keywords(row),
        delivered=subscriptions.delivered_count(session, row.id),
    )


def export(session: Session, chat: Chat) -> str:
    """The keywords and settings as a JSON document that /import takes back."""
    row = subscriptions.find(session, chat.id)
    held = feedback.held(session, row.id) if row else feedback.Held([], [], [])

    def named(title: str, arxiv_id: str | None) -> dict[str, object]:
        return {"title": title, **({"arxiv_id": arxiv_id} if arxiv_id else {})}

    document = {
        "format": EXPORT_FORMAT,
        "keywords": subscriptions.keywords(row) if row else [],
        "timezone": row.timezone if row else "UTC",
        "time": f"{row.delivery_time:%H:%M}" if row else "08:00",
        "schedule": row.schedule if row else "daily",
        "paused": row.paused if row else False,
        "nothing_new": "on" if row and row.notify_empty else "off",
        # Papers by arXiv id and title, so that /import finds them in any database.
        "ratings": [{**named(r.title, r.arxiv_id), "value": r.value} for r in held.ratings],
        "saved": [named(r.title, r.arxiv_id) for r in held.saved],
        # An entry that matched no stored paper keeps its abstract: it is the profile's text.
        "library": [
            {**named(e.title, e.arxiv_id), **({"abstract": e.abstract} if e.abstract else {})}
            if e.paper_id is None
            else named(e.title, e.arxiv_id)
            for e in held.library
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def import_document(
    session: Session, chat: Chat, text: str, now: datetime, known: Candidates | None = None
) -> Imported:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return Imported("not json")
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        return Imported("not an export")
    wanted = document.get("keywords", [])
    if not isinstance(wanted, list) or not all(isinstance(k, str) for k in wanted):
        return Imported("bad keywords")
    done: list[SettingReply] = []
    for key, apply in (
        ("timezone", set_timezone),
        ("time", set_time),
        ("schedule", set_schedule),
        ("nothing_new", set_notify_empty),
    ):
        value = document.get(key)
        if isinstance(value, str):
            done.append(apply(session, chat, value, now))
    if isinstance(document.get("paused"), bool):
        done.append(set_paused(session, chat, document["paused"], now))
    # Keywords last, so that the next digest they announce is on the imported schedule. The
    # entries were separate keywords when exported: cleaned and refused, never questioned.
    parts = [part for entry in wanted for part in split_keywords(entry)]
    added = _add_keywords(session, chat, parts, now, known, question=False) if parts else None

    # Ratings, saved papers and the library: entries that are not a paper named by a title
    # (and, for a rating, a value of 1 or -1) are passed over.
    def papers(key: str) -> list[dict[str, object]]:
        value = document.get(key)
        items = value if isinstance(value, list) else []
        return [
            item
            for item in items
            if isinstance(item, dict)
            and isinstance(item.get("title"), str)
            and item["title"].strip()
            and isinstance(item.get("arxiv_id"), str | None)
        ]

    def reference(item: dict[str, object]) -> feedback.Reference:
        value = item.get("value")
        return feedback.Reference(
            str(item["title"]),
            str(item["arxiv_id"]) if item.get("arxiv_id") else None,
            value if isinstance(value, int) and not isinstance(value, bool) else 0,
        )

    def abstract(item: dict[str, object]) -> str:
        text = item.get("abstract")
        return text if isinstance(text, str) else ""

    ratings = [r for r in map(reference, papers("ratings")) if r.value in (1, -1)]
    saved = [reference(item) for item in papers("saved")]
    library = [
        (str(item["title"]), abstract(item), reference(item).arxiv_id) for item in papers("library")
    ]
    restored = None
    if ratings or saved or library:
        row = _subscriber(session, chat, now)
        kept = feedback.restore(session, row.id, ratings, saved, library, now)
        restored = Restored(kept.ratings, kept.saved, kept.library, kept.missing)
    return Imported(settings=done, keywords=added, restored=restored)


def forget(session: Session, chat: Chat) -> bool:
    """Delete everything stored about the chat; whether there was anything."""
    return subscriptions.forget(session, chat.id)


def nothing_to_send(session: Session, chat: Chat) -> NothingToSend:
    """Why /digest sent nothing: no keywords, or nothing new."""
    row = subscriptions.find(session, chat.id)
    if row is not None and row.keywords:
        return "nothing new"
    held = feedback.held(session, row.id) if row is not None else None
    profile = held is not None and bool(held.ratings or held.saved or held.library)
    if profile and row is not None and row.recommend:
        return "nothing recommended"
    return "no keywords"


def _why(match: Match) -> str:
    return "matched " + ", ".join(f"{hit.label} ({hit.where})" for hit in match.hits)


def best_first(matches: Matches, positions: Iterable[int]) -> list[int]:
    """Digest order of some of the matched papers (by batch position): title matches first,
    then the most upvoted; otherwise as given."""
    title = matches.in_title
    papers = matches.papers
    return sorted(positions, key=lambda i: (i not in title, -(papers[i].upvotes or 0)))


def ranked(matches: Matches) -> list[Match]:
    """The matches in digest order."""
    return [matches.at(index) for index in best_first(matches, matches.indices)]


@dataclass(frozen=True, slots=True)
class Candidates:
    """The newest stored papers, indexed once for matching and ranking and shared by every
    chat: /latest, /digest and each digest of a scheduled run. Keywords are read against
    their vocabulary and acronyms, which do not depend on what a chat was sent, so a
    keyword is never read differently once its papers have been delivered."""

    newest_id: int | None
    ids: list[int]  # the papers' row ids, in the matcher's order (newest first)
    matcher: Matcher
    # The ranker's features, made when a chat first needs them: only chats that rated,
    # saved or imported papers do, and scikit-learn is a third of a digest run's memory.
    _ranking: list[recommendations.Pool] = field(default_factory=list)

    def ranking(self, session: Session) -> recommendations.Pool:
        if not self._ranking:
            made = recommendations.pool_of(session, self.newest_id, self.ids, MADE_IN_A_RUN)
            self._ranking.append(made)
        return self._ranking[0]


def candidates(session: Session, cached: Candidates | None = None) -> Candidates:
    """The candidates for the current store; `cached` is reused while no paper was added."""
    newest_id = subscriptions.newest_paper_id(session)
    if cached is not None and cached.newest_id == newest_id:
        return cached
    newest = subscriptions.newest_papers(session, CANDIDATES)
    papers = [paper for _, paper in newest]
    ids = [row_id for row_id, _ in newest]
    vocabulary, acronyms = learn(papers)
    return Candidates(newest_id, ids, Matcher(papers, vocabulary, acronyms))


def latest(session: Session, chat: Chat, known: Candidates, limit: int = 5) -> list[Planned] | None:
    """The newest stored papers matching the chat's keywords, sent before or not, best
    first; None if the chat has no keywords."""
    row = subscriptions.find(session, chat.id)
    have = subscriptions.keywords(row) if row else []
    if not have:
        return None
    return [
        Planned(known.ids[m.index], m.paper, _why(m)) for m in known.matcher.match(have)[:limit]
    ]


def trending_papers(
    session: Session, argument: str, now: datetime
) -> tuple[str | None, list[Trend]]:
    """/trending [day|week]: the period and the top papers new in it; no period for an
    argument that names none."""
    period = trending.period(argument)
    if period is None:
        return None, []
    found = feedback.approvals(session, trending.since(now, period), trending.MIN_CHATS)
    return period, trending.rank(found)


def digest(
    session: Session,
    chat_id: int,
    known: Candidates,
    limit: int,
    recommend: int = 0,
    now: datetime | None = None,
) -> Digest:
    """The unsent papers matching the chat's keywords, best first by its ranker (if it rated,
    saved or imported papers), then up to `recommend` unsent papers no keyword matched that
    its ranker scores high: the plan render.digest makes messages of. On a weekly schedule
    only papers first stored in the week before `now` (default: the present) are the
    digest's."""
    row = subscriptions.find(session, chat_id)
    if row is None:
        return Digest([], 0)
    weekly = stored_schedule(row.schedule).kind == "weekly"
    have = subscriptions.keywords(row)
    # Batch positions throughout: only the papers the digest shows get their Match (why).
    matches = known.matcher.match(have)
    positions = matches.indices
    if weekly and positions:
        # Older unsent matches are not this week's news; a daily digest still takes them,
        # since a daily subscriber may have been paused or away.
        matched = [known.ids[i] for i in positions]
        this_week = subscriptions.first_seen_since(session, (now or utc_now()) - WEEK, matched)
        positions = [i for i in positions if known.ids[i] in this_week]
    matched_ids = [known.ids[i] for i in positions]
    sent = subscriptions.delivered_among(session, row.id, matched_ids)
    fresh = [i for i in best_first(matches, positions) if known.ids[i] not in sent]
    fitted = recommendations.model(session, row.id, lambda: known.ranking(session), utc_now())
    features = known.ranking(session).features if fitted is not None else None
    # Scored once: the order of the matches and the recommendations both use them.
    scored = ranker.scores(fitted, features) if fitted is not None and features else None
    if fitted is not None:
        in_title = matches.in_title
        order = recommendations.order(
            scored,
            features,
            [(known.ids[i], matches.papers[i], i in in_title) for i in fresh],
        )
        fresh = [fresh[n] for n in order]
    chosen = [Planned(known.ids[i], matches.papers[i], _why(matches.at(i))) for i in fresh[:limit]]
    recommended: list[Planned] = []
    if fitted is not None and row.recommend and recommend:
        suggested = recommendations.recommend(
            session,
            row.id,
            known.ranking(session),
            utc_now(),
            recommend,
            skip=matched_ids,
            positive_only=True,
            fitted=fitted,
            scored=scored,
        )
        recommended = [
            Planned(r.paper_id, r.paper, f"because {r.because}" if r.because else None)
            for r in suggested
        ]
    return Digest(
        chosen,
        len(fresh),
        row.id,
        row.thread_id,
        row.notify_empty and bool(have),
        recommended,
        weekly,
    )


def due_chats(session: Session, now: datetime) -> list[int]:
    """The chats whose scheduled digest is due, after scheduling any not yet scheduled."""
    schedule.schedule_unscheduled(session, lambda row: _next_at(row, now))
    return schedule.due(session, now)


def pending_today(session: Session, now: datetime) -> list[int]:
    """The receiving chats that have not had a digest yet on their local today, of those
    whose schedule has one today or whose scheduled digest is overdue (a weekly chat is not
    sent one on another day by `paperboy digest --now`)."""
    pending = []
    for row in schedule.receiving(session):
        today = local_day(now, row.timezone)
        if row.last_digest_on is not None and row.last_digest_on >= today:
            continue
        overdue = row.next_digest_at is not None and row.next_digest_at <= now
        if overdue or stored_schedule(row.schedule).has_digest_on(today):
            pending.append(row.chat_id)
    return pending


def had_digest(session: Session, chat_id: int, started: datetime) -> bool:
    """Whether the chat already had its digest of the local day `started` is in."""
    days = subscriptions.digest_days(session, chat_id)
    if days is None or days.last_digest_on is None:
        return False
    return days.last_digest_on >= local_day(started, days.timezone)


def finish_digest(session: Session, chat_id: int, started: datetime) -> None:
    """The chat's digest of the day that `started` is in is done: schedule the next one."""
    found = subscriptions.digest_days(session, chat_id)
    if found is not None:
        day = local_day(started, found.timezone)
        days = stored_schedule(found.schedule)
        next_at = next_digest(started, found.timezone, found.delivery_time, day, days)
        schedule.finish_digest(session, chat_id, day, next_at)


def _state(session: Session, key: str) -> str | None:
    row = schedule.state(session, key)
    return row.value if row else None


def stats(session: Session, now: datetime) -> BotStats:
    last_run = schedule.state(session, schedule.LAST_DIGEST_RUN)
    return BotStats(
        figures=queries.stats(session),
        due=len(schedule.due(session, now)),
        last_ingest=_state(session, schedule.LAST_INGEST),
        last_run=(last_run.updated_at, last_run.value) if last_run else None,
        flood_until=schedule.flood_wait_until(session, now),
        failing=[(s.location, s.last_error or "") for s in queries.failing_sources(session)],
    )


def ingest_sources(session: Session, configured: Sequence[str]) -> list[str]:
    """What a scheduled or /ingest run reads: configured sources, then those admins added."""
    return list(dict.fromkeys([*configured, *queries.scheduled_sources(session)]))


def chat_sources(session: Session, configured: Sequence[str]) -> frozenset[str]:
    """The sources only /sources add brought in: fetched as untrusted URLs (the operator's
    PAPERBOY_SOURCES and `paperboy ingest` are trusted, a chat admin is not)."""
    return frozenset(queries.scheduled_sources(session)) - frozenset(configured)


def manage_sources(
    session: Session,
    action: str,
    location: str,
    configured: Sequence[str],
    *,
    public_only: bool,
) -> SourcesReply:
    """/sources, /sources add URL, /sources remove URL; `public_only` refuses URLs of
    loopback, private and other non-public addresses (this resolves the host name)."""
    if action == "add":
        if not location.startswith(("http://", "https://")):
            return SourcesReply("not a url")
        if public_only and (refusal := netguard.url_refusal(location)):
            return SourcesReply("refused", location, reason=refusal)
        queries.schedule_source(session, location, True)
        return SourcesReply("added", location)
    if action == "remove":
        removed = queries.schedule_source(session, location, False)
        return SourcesReply("removed" if removed else "not added", location)
    if action:
        return SourcesReply("usage")
    added = queries.scheduled_sources(session)
    return SourcesReply("listed", configured=list(configured), added=added)
