"""What the chat commands do, as plain functions over a database session: no Telegram I/O.

Each returns the reply as Telegram HTML (everything user- or page-supplied escaped), so the
handlers stay a thin layer that parses a command and sends what comes back.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from html import escape

from rapidfuzz import process
from sqlalchemy.orm import Session

from bot import filters, keywords, netguard, ranker, recommendations, render, trending
from bot.ingest import SourceReport
from bot.logs import redact_url
from bot.matching import Match, Matcher, learn
from bot.render import cut, pack, paper_block, split_messages
from bot.schedule import (
    SCHEDULE_USAGE,
    local_day,
    next_digest,
    parse_schedule,
    stored_schedule,
    utc_now,
)
from storage import feedback, queries, schedule, subscriptions
from storage.models import SubscriberRow

MAX_KEYWORDS = 50
MAX_KEYWORD_LENGTH = 100
# Keywords listed inline in a reply are cut to this much: 50 keywords of 100 characters
# would not fit a message (/keywords lists them all, over several messages if need be).
LISTING = 1_500
# /latest and /digest look at this many of the newest stored papers: digests are about
# what is new, and matching a whole archive on every command would not scale.
CANDIDATES = 2_000
# A weekly digest is the week's: papers first stored this long before it, not older ones.
WEEK = timedelta(days=7)
EXPORT_FORMAT = "paperboy-subscription/1"
# A /subscribe reply must fit one message, with room for the settings lines /import adds.
REPLY_LIMIT = 3_500

_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")
_TIMEZONES = sorted(zoneinfo.available_timezones())
_TIMEZONE_BY_NAME = {zone.casefold(): zone for zone in _TIMEZONES}


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
        "you", which replies address directly instead: see `whose`)."""
        return self.title or ("this chat" if self.type != "private" else "you")

    @property
    def private(self) -> bool:
        return self.type == "private"

    def whose(self, things: str) -> str:
        """ "your keywords" in a private chat, "the keywords of Reading group" elsewhere."""
        if self.private:
            return f"your {things}"
        return f"the {things} of {escape(self.name)}"

    def heading(self, what: str) -> str:
        """ "Your keywords" in a private chat, "Keywords of Reading group" elsewhere."""
        if self.type == "private":
            return f"<b>Your {what.lower()}</b>"
        return f"<b>{what} of {escape(self.name)}</b>"


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


def _when(row: SubscriberRow) -> str:
    """ "daily at 08:00 (UTC)", "weekly on Friday at 07:30 (Europe/Berlin)"."""
    return (
        f"{stored_schedule(row.schedule).describe()} at {row.delivery_time:%H:%M} "
        f"({escape(row.timezone)})"
    )


def _next_line(row: SubscriberRow, now: datetime) -> str:
    return render.next_digest(None if row.paused else _next_at(row, now), now, row.timezone)


def start(session: Session, chat: Chat, now: datetime) -> str:
    row = _subscriber(session, chat, now)
    have = subscriptions.keywords(row)
    lines = [
        "<b>Welcome to paperboy!</b>",
        "I send a digest of new research papers that match your keywords, "
        f"{_when(row)}: /schedule, /time and /timezone change it.",
        "",
        "Subscribe with <code>/subscribe graph neural networks, pruning</code>.",
        "Typos, plurals, British spellings and acronyms (GNN, MoE) are understood; "
        "<code>-survey</code> excludes.",
    ]
    if have:
        lines += ["", f"{chat.heading('Keywords')}: " + escape(cut(", ".join(have), LISTING))]
    lines += ["", "/help lists everything I can do."]
    return "\n".join(lines)


def subscribe(
    session: Session, chat: Chat, text: str, now: datetime, known: Candidates | None = None
) -> str:
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
) -> str:
    if known is None:
        known = candidates(session)
    found = keywords.review(wanted, known.matcher if question else None)
    if not found.typed:
        return "Usage: <code>/subscribe keyword[, keyword...]</code>"
    too_long = [k.stored for k in found.typed if len(k.stored) > MAX_KEYWORD_LENGTH]
    if too_long:
        return (
            f"A keyword can be at most {MAX_KEYWORD_LENGTH} characters; "
            f"“{escape(too_long[0][:40])}…” has {len(too_long[0])}. Nothing was added."
        )
    stored = [k.stored for k in found.accepted]
    row = _subscriber(session, chat, now) if stored else None
    if row is not None:
        present = len(row.keywords)
        fresh = {k.casefold() for k in stored} - {k.keyword.casefold() for k in row.keywords}
        if present + len(fresh) > MAX_KEYWORDS:
            return (
                f"At most {MAX_KEYWORDS} keywords are allowed, and there are {present} already. "
                "Remove some with /unsubscribe first. Nothing was added."
            )
    added = set(subscriptions.add_keywords(row, stored)) if row is not None else set()
    new = [k for k in found.accepted if k.stored in added]
    # A channel is managed from a private chat: a suggested command must name it.
    command = "/subscribe " + (f"{chat.title} " if chat.type == "channel" and chat.title else "")
    reply = [
        *render.listing("Subscribed to: ", [k.term for k in new if not k.exclude], LISTING),
        *render.listing("Excluding: ", [k.term for k in new if k.exclude], LISTING),
        *render.listing(
            "Already there: ", [k.stored for k in found.accepted if k.stored not in added], LISTING
        ),
        *render.refusals(found.refused),
        *render.questions(found.questioned, command, nothing_added=not new),
    ]
    if row is not None and new:
        counted = keywords.counts(new, known.matcher)
        reply += render.counts(counted, len(known.ids), newest=len(known.ids) >= CANDIDATES)
        when = _next_line(row, now)
        if question:
            # /subscribe (not /import): what to try now, on the last line, which fit keeps.
            named = chat.title if chat.type == "channel" and chat.title else ""
            when += "\n" + render.next_step(escape(named))
        reply.append(when)
    return render.fit(reply, REPLY_LIMIT)


def follow(
    session: Session, chat: Chat, text: str, now: datetime, known: Candidates | None = None
) -> str:
    """/follow NAME[, NAME...]: a shortcut for subscribing `author:"NAME"`."""
    names = _names(text)
    usage = (
        "Usage: <code>/follow Yann LeCun</code>, several separated by commas, or "
        "<code>/follow LeCun</code> for every author of that last name."
    )
    if not names:
        return usage
    if any(name[0] in keywords.DASHES or ":" in name for name in names):
        return (
            usage + " For a category: <code>/subscribe cat:cs.LG</code>; to leave an author "
            "out: <code>/subscribe -author:NAME</code>."
        )
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


def unsubscribe(session: Session, chat: Chat, keyword: str) -> str:
    row = subscriptions.find(session, chat.id)
    if row is None or not row.keywords:
        return "There are no keywords to remove. Add some with /subscribe."
    # As typed, or cleaned as /subscribe cleans it ("pruning." is the keyword "pruning").
    cleaned = keywords.clean(keyword)
    removed = subscriptions.remove_keyword(row, " ".join(keyword.split()))
    if removed is None and cleaned is not None:
        removed = subscriptions.remove_keyword(row, cleaned.stored)
    if removed is None:
        return f"“{escape(keyword[:100])}” is not among the keywords. /keywords lists them."
    return f"Unsubscribed from: {escape(removed)}"


def keyword_list(session: Session, chat: Chat) -> list[str]:
    row = subscriptions.find(session, chat.id)
    have = subscriptions.keywords(row) if row else []
    if not have:
        return ["No keywords yet. Add some with <code>/subscribe keyword, keyword</code>."]
    header = f"{chat.heading('Keywords')} ({len(have)}):"
    return split_messages((f"• {escape(k)}" for k in have), header=header, separator="\n")


def set_time(session: Session, chat: Chat, text: str, now: datetime) -> str:
    found = _TIME.match(text.strip())
    if not found:
        return "Usage: <code>/time HH:MM</code>, for example <code>/time 07:30</code>."
    at = time(int(found.group(1)), int(found.group(2)))
    row = _subscriber(session, chat, now)
    subscriptions.set_schedule(row, at=at)
    return f"Digest {_when(row)}.\n{_next_line(row, now)}"


def set_schedule(session: Session, chat: Chat, text: str, now: datetime) -> str:
    """/schedule daily | weekdays | weekly [DAY]; alone, the current schedule and usage."""
    usage = (
        f"Usage: <code>/schedule {SCHEDULE_USAGE}</code>, for example "
        "<code>/schedule weekly fri</code> (a weekly digest carries the week's best matches)."
    )
    if not text.strip():
        row = subscriptions.find(session, chat.id)
        if row is None:  # what the chat would get: the configured default, at 08:00 UTC
            default = stored_schedule(session.info.get(subscriptions.DEFAULT_SCHEDULE))
            return f"Digest {default.describe()} at 08:00 (UTC).\n{usage}"
        return f"Digest {_when(row)}.\n{usage}"
    chosen = parse_schedule(text)
    if chosen is None:
        return f"“{escape(text.strip()[:40])}” is not a schedule. {usage}"
    row = _subscriber(session, chat, now)
    subscriptions.set_schedule(row, days=chosen.stored)
    return f"Digest {_when(row)}.\n{_next_line(row, now)}"


def set_timezone(session: Session, chat: Chat, text: str, now: datetime) -> str:
    name = text.strip()
    if not name:
        return (
            "Usage: <code>/timezone Area/City</code>, "
            "for example <code>/timezone Europe/Berlin</code>."
        )
    exact = _TIMEZONE_BY_NAME.get(name.casefold())
    if exact is None:
        close = [zone for zone, _, _ in process.extract(name, _TIMEZONES, limit=3)]
        return f"Unknown time zone “{escape(name[:64])}”. Did you mean: " + ", ".join(
            f"<code>{escape(zone)}</code>" for zone in close
        )
    row = _subscriber(session, chat, now)
    subscriptions.set_schedule(row, timezone=exact)
    return f"Time zone set to {escape(exact)}; digest {_when(row)}."


def set_paused(session: Session, chat: Chat, paused: bool, now: datetime) -> str:
    row = _subscriber(session, chat, now)
    subscriptions.set_paused(row, paused)
    if paused:
        return "Paused: no daily digests until /resume."
    return f"Resumed: digest {_when(row)}."


def set_notify_empty(session: Session, chat: Chat, text: str, now: datetime) -> str:
    choice = text.strip().lower()
    if choice not in ("on", "off"):
        return (
            "Usage: <code>/nothingnew on</code> (a short note on days without new papers) or "
            "<code>/nothingnew off</code> (no message on those days, the default)."
        )
    row = _subscriber(session, chat, now)
    row.notify_empty = choice == "on"
    if row.notify_empty:
        return "On days without new papers you will get a short “nothing new today”."
    return "On days without new papers there will be no message."


def set_recommend(session: Session, chat: Chat, text: str, now: datetime) -> str:
    """/recommend on|off: the digest's "Recommended for you" part; alone, the state."""
    choice = text.strip().lower()
    if choice not in ("on", "off"):
        row = subscriptions.find(session, chat.id)
        state = "on" if row is None or row.recommend else "off"
        return (
            f"Recommendations: {state}. When on, the daily digest ends with a few new papers "
            "that no keyword matched but that are like those you rated 👍 or saved 🔖.\n"
            "Usage: <code>/recommend on</code> or <code>/recommend off</code>."
        )
    row = _subscriber(session, chat, now)
    row.recommend = choice == "on"
    if row.recommend:
        return "Recommendations on: digests end with new papers like those you liked or saved."
    return "Recommendations off: digests carry only papers that match your keywords."


def settings(session: Session, chat: Chat) -> str:
    row = subscriptions.find(session, chat.id)
    if row is None:
        return "Nothing is stored yet: /start to begin."
    state = "paused" if row.paused else ("active" if row.active else "inactive")
    have = subscriptions.keywords(row)
    return "\n".join(
        [
            chat.heading("Settings"),
            f"Digest: {state}, {_when(row)} (/schedule, /time, /timezone)",
            "On days with nothing new: "
            + ("a short note" if row.notify_empty else "no message")
            + " (/nothingnew)",
            "Recommendations: " + ("on" if row.recommend else "off") + " (/recommend)",
            f"Keywords ({len(have)}): "
            + (escape(cut(", ".join(have), LISTING)) if have else "none"),
            f"Papers sent so far: {subscriptions.delivered_count(session, row.id)}",
        ]
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
) -> str:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return "That is not a JSON document: send the text that /export gave you."
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        return "That is not a paperboy export: send the text that /export gave you."
    wanted = document.get("keywords", [])
    if not isinstance(wanted, list) or not all(isinstance(k, str) for k in wanted):
        return "The export's <code>keywords</code> must be a list of texts. Nothing was changed."
    reply = ""
    for key, apply in (
        ("timezone", set_timezone),
        ("time", set_time),
        ("schedule", set_schedule),
        ("nothing_new", set_notify_empty),
    ):
        value = document.get(key)
        if isinstance(value, str):
            reply += "\n" + apply(session, chat, value, now)
    if isinstance(document.get("paused"), bool):
        reply += "\n" + set_paused(session, chat, document["paused"], now)
    # Keywords last, so that the next digest they announce is on the imported schedule. The
    # entries were separate keywords when exported: cleaned and refused, never questioned.
    parts = [part for entry in wanted for part in split_keywords(entry)]
    if parts:
        reply += "\n" + _add_keywords(session, chat, parts, now, known, question=False)

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
    if ratings or saved or library:
        row = _subscriber(session, chat, now)
        done = feedback.restore(session, row.id, ratings, saved, library, now)
        counts = [
            render.plural(done.ratings, "rating"),
            render.plural(done.saved, "saved paper"),
            f"{done.library:,} library " + ("entry" if done.library == 1 else "entries"),
        ]
        reply += "\nRestored " + ", ".join(counts) + "."
        if done.missing:
            reply += f" Not stored here, so left out: {render.plural(done.missing, 'paper')}."
    return reply.strip() or "The export was empty: nothing to import."


# What /stop deletes, as its question and its answer name it.
STORED = "keywords, settings, ratings, saved papers, library and history"


def stop_question(chat: Chat) -> str:
    """/stop's confirmation: "Delete your keywords, ...?" or "... of Reading group?"."""
    return f"Delete {chat.whose(STORED)}? This cannot be undone."


def forget(session: Session, chat: Chat) -> str:
    if subscriptions.forget(session, chat.id):
        again = " /start to begin again." if chat.private else ""
        return f"Done: {chat.whose(STORED)} are deleted.{again}"
    if chat.private:
        return "There was nothing stored about you."
    return f"There was nothing stored about {escape(chat.name)}."


def nothing_to_send(session: Session, chat: Chat) -> str:
    """Why /digest sent nothing: no keywords (and how to add one), or nothing new."""
    row = subscriptions.find(session, chat.id)
    if row is not None and row.keywords:
        return f"Nothing new for {chat.whose('keywords')} right now."
    held = feedback.held(session, row.id) if row is not None else None
    profile = held is not None and bool(held.ratings or held.saved or held.library)
    add = "Add keywords with <code>/subscribe keyword, keyword</code>"
    if profile and row is not None and row.recommend:
        return (
            "There are no keywords yet, so a digest carries only papers recommended from "
            f"your 👍 and 🔖, and none is new right now. {add} to get the papers that match them."
        )
    return f"There are no keywords yet, so there is nothing to send. {add}."


def _why(match: Match) -> str:
    return "matched " + ", ".join(f"{hit.label} ({hit.where})" for hit in match.hits)


def ranked(matches: list[Match]) -> list[Match]:
    """Digest order: title matches first, then the most upvoted; otherwise as given."""
    return sorted(matches, key=lambda m: (m.where != "title", -(m.paper.upvotes or 0)))


@dataclass(frozen=True, slots=True)
class Digest:
    """Messages to send, each with the ids of the papers it carries; `more` matches wait for
    the "N more" button. `subscriber_id` None: the chat has no subscription."""

    messages: list[tuple[str, list[int]]]
    more: int
    subscriber_id: int | None = None
    thread_id: int | None = None
    # The chat asked to hear "nothing new today" on empty days (and has keywords).
    notify_empty: bool = False
    # The last messages that carry "Recommended for you" rather than keyword matches.
    recommended: int = 0
    # A weekly schedule's digest: the week's matches ("this week"), not the day's.
    weekly: bool = False


@dataclass(frozen=True, slots=True)
class Candidates:
    """The newest stored papers, indexed once for matching and ranking and shared by every
    chat: /latest, /digest and each digest of a scheduled run. Keywords are read against
    their vocabulary and acronyms, which do not depend on what a chat was sent, so a
    keyword is never read differently once its papers have been delivered."""

    newest_id: int | None
    ids: list[int]  # the papers' row ids, in the matcher's order (newest first)
    matcher: Matcher
    ranking: recommendations.Pool


def candidates(session: Session, cached: Candidates | None = None) -> Candidates:
    """The candidates for the current store; `cached` is reused while no paper was added."""
    newest_id = subscriptions.newest_paper_id(session)
    if cached is not None and cached.newest_id == newest_id:
        return cached
    newest = subscriptions.newest_papers(session, CANDIDATES)
    papers = [paper for _, paper in newest]
    ids = [row_id for row_id, _ in newest]
    vocabulary, acronyms = learn(papers)
    return Candidates(
        newest_id,
        ids,
        Matcher(papers, vocabulary, acronyms),
        recommendations.pool_of(session, newest_id, ids),
    )


def latest(
    session: Session, chat: Chat, known: Candidates, limit: int = 5
) -> list[tuple[str, list[int]]]:
    """The newest stored papers matching the chat's keywords, sent before or not: numbered
    messages, each with the ids of the papers it carries (for their feedback buttons)."""
    row = subscriptions.find(session, chat.id)
    have = subscriptions.keywords(row) if row else []
    if not have:
        return [("No keywords yet. Add some with <code>/subscribe keyword, keyword</code>.", [])]
    matches = known.matcher.match(have)[:limit]
    if not matches:
        return [(f"No stored paper matches {chat.whose('keywords')} yet.", [])]
    blocks = ((paper_block(m.paper, _why(m)), known.ids[m.index]) for m in matches)
    return pack(blocks, header=chat.heading("Latest papers"), numbered=True)


def trending_papers(session: Session, argument: str, now: datetime) -> list[tuple[str, list[int]]]:
    """/trending [day|week]: numbered messages of the top papers new in that period, each
    with the ids of the papers it carries."""
    period = trending.period(argument)
    if period is None:
        return [("Use <code>/trending day</code> or <code>/trending week</code>.", [])]
    found = feedback.approvals(session, trending.since(now, period), trending.MIN_CHATS)
    return render.trending_papers(trending.rank(found), period)


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
    its ranker scores high, as messages to send. On a weekly schedule only papers first
    stored in the week before `now` (default: the present) are the digest's."""
    row = subscriptions.find(session, chat_id)
    if row is None:
        return Digest([], 0)
    weekly = stored_schedule(row.schedule).kind == "weekly"
    have = subscriptions.keywords(row)
    matches = known.matcher.match(have) if have else []
    if weekly and matches:
        # Older unsent matches are not this week's news; a daily digest still takes them,
        # since a daily subscriber may have been paused or away.
        this_week = subscriptions.first_seen_since(session, (now or utc_now()) - WEEK)
        matches = [m for m in matches if known.ids[m.index] in this_week]
    matched_ids = [known.ids[m.index] for m in matches]
    sent = subscriptions.delivered_among(session, row.id, matched_ids)
    fresh = [m for m in ranked(matches) if known.ids[m.index] not in sent]
    features = known.ranking.features
    fitted = recommendations.model(session, row.id, features, utc_now()) if features else None
    # Scored once: the order of the matches and the recommendations both use them.
    scored = ranker.scores(fitted, features) if fitted is not None and features else None
    if fitted is not None:
        positions = recommendations.order(
            scored,
            features,
            [(known.ids[m.index], m.paper, m.where == "title") for m in fresh],
        )
        fresh = [fresh[n] for n in positions]
    chosen = [(paper_block(m.paper, _why(m)), known.ids[m.index]) for m in fresh[:limit]]
    more = max(0, len(fresh) - limit)
    count = f"{len(chosen)} of {len(fresh)}" if more else str(len(chosen))
    noun = "new paper" if len(fresh) == 1 else "new papers"
    header = f"📬 <b>{count} {noun}</b> for your keywords" + (" this week" if weekly else "")
    messages = pack(chosen, header=header, numbered=True) if chosen else []
    recommended: list[tuple[str, list[int]]] = []
    if fitted is not None and row.recommend and recommend:
        suggested = recommendations.recommend(
            session,
            row.id,
            known.ranking,
            utc_now(),
            recommend,
            skip=matched_ids,
            positive_only=True,
            fitted=fitted,
            scored=scored,
        )
        blocks = [
            (paper_block(r.paper, f"because {r.because}" if r.because else None), r.paper_id)
            for r in suggested
        ]
        if blocks:
            recommended = pack(blocks, header="✨ <b>Recommended for you</b>", numbered=True)
    return Digest(
        messages + recommended,
        more,
        row.id,
        row.thread_id,
        row.notify_empty and bool(have),
        len(recommended),
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
    row = subscriptions.find(session, chat_id)
    day = local_day(started, row.timezone) if row else None
    return (
        row is not None
        and row.last_digest_on is not None
        and day is not None
        and (row.last_digest_on >= day)
    )


def finish_digest(session: Session, chat_id: int, started: datetime) -> None:
    """The chat's digest of the day that `started` is in is done: schedule the next one."""
    row = subscriptions.find(session, chat_id)
    if row is not None:
        day = local_day(started, row.timezone)
        days = stored_schedule(row.schedule)
        next_at = next_digest(started, row.timezone, row.delivery_time, day, days)
        schedule.finish_digest(session, chat_id, day, next_at)


def _state(session: Session, key: str) -> str | None:
    row = schedule.state(session, key)
    return row.value if row else None


def stats(session: Session, now: datetime) -> str:
    figures = queries.stats(session)
    failing = queries.failing_sources(session)
    last_ingest = _state(session, schedule.LAST_INGEST)
    last_run = schedule.state(session, schedule.LAST_DIGEST_RUN)
    flood = schedule.flood_wait_until(session, now)
    lines = [
        "<b>paperboy</b>",
        f"Papers: {figures.papers} ({figures.papers_with_arxiv_id} with an arXiv id)",
        f"Subscribers: {figures.subscribers} ({figures.active_subscribers} active)",
        f"Keywords: {figures.keywords}",
        f"Papers delivered: {figures.deliveries}",
        f"Sources: {figures.sources} ({figures.failing_sources} failing)",
        f"Digests due now: {len(schedule.due(session, now))}",
        "Last scheduled ingest: " + (last_ingest[:16].replace("T", " ") if last_ingest else "none"),
        "Last digest run: "
        + (
            f"{last_run.updated_at:%Y-%m-%d %H:%M}: {escape(last_run.value)}"
            if last_run
            else "none"
        ),
    ]
    if flood is not None:
        lines.append(f"⚠ Telegram flood wait: no digests until {flood:%Y-%m-%d %H:%M} UTC")
    lines += [
        f"⚠ {escape(redact_url(s.location)[:200])}: {escape((s.last_error or '')[:200])}"
        for s in failing
    ]
    return "\n".join(lines)


def ingest_sources(session: Session, configured: Sequence[str]) -> list[str]:
    """What a scheduled or /ingest run reads: configured sources, then those admins added."""
    return list(dict.fromkeys([*configured, *queries.scheduled_sources(session)]))


def chat_sources(session: Session, configured: Sequence[str]) -> frozenset[str]:
    """The sources only /sources add brought in: fetched as untrusted URLs (the operator's
    PAPERBOY_SOURCES and `paperboy ingest` are trusted, a chat admin is not)."""
    return frozenset(queries.scheduled_sources(session)) - frozenset(configured)


def ingest_summary(reports: Sequence[SourceReport]) -> list[str]:
    if not reports:
        return ["No sources are configured. Add one with <code>/sources add URL</code>."]
    lines = []
    for report in reports:
        name = escape(redact_url(report.source)[:200])
        if report.status == "failed":
            lines.append(f"⚠ {name}: {escape((report.error or '')[:300])}")
        elif report.status == "unchanged":
            lines.append(f"• {name}: unchanged")
        else:
            lines.append(f"• {name}: {render.plural(report.parsed, 'paper')}, {report.new} new")
    new = sum(r.new for r in reports)
    failed = sum(r.status == "failed" for r in reports)
    totals = f"{render.plural(len(reports), 'source')}, {render.plural(new, 'new paper')}"
    lines.append(f"<b>{totals}, {failed} failed.</b>")
    return split_messages(lines, separator="\n")


def manage_sources(
    session: Session,
    action: str,
    location: str,
    configured: Sequence[str],
    *,
    public_only: bool,
) -> list[str]:
    """/sources, /sources add URL, /sources remove URL; `public_only` refuses URLs of
    loopback, private and other non-public addresses (this resolves the host name)."""
    if action == "add":
        if not location.startswith(("http://", "https://")):
            return ["Usage: <code>/sources add https://…</code> (an http or https URL)."]
        if public_only and (refusal := netguard.url_refusal(location)):
            return [f"Not added: {escape(refusal)}."]
        queries.schedule_source(session, location, True)
        return [f"Added {escape(redact_url(location))}: it is ingested on every run from now on."]
    if action == "remove":
        if not queries.schedule_source(session, location, False):
            return [f"{escape(location[:200])} is not among the sources added with /sources add."]
        return [f"Removed {escape(redact_url(location))}."]
    if action:
        return [
            "Usage: <code>/sources</code>, <code>/sources add URL</code>, "
            "<code>/sources remove URL</code>."
        ]
    added = queries.scheduled_sources(session)
    if not configured and not added:
        return ["No sources yet. Add one with <code>/sources add URL</code>."]
    lines = ["<b>Sources</b>"]
    lines += [f"• {escape(redact_url(s))} (PAPERBOY_SOURCES)" for s in configured]
    lines += [f"• {escape(redact_url(s))}" for s in added]
    return split_messages(lines, separator="\n")
