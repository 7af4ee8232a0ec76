"""Chat messages as Telegram HTML: papers, lists, and splitting under the length limit;
and the inline keyboards under them (feedback buttons, "N more").

Pure. Everything that came from a page is escaped; only the tags written here reach
Telegram, so a title like "<b>Attention</b> & more" shows as typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time
from html import escape
from typing import TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.ingest import SourceReport
from bot.keywords import MAX_KEYWORD_LENGTH, MAX_KEYWORDS, Count, Keyword
from bot.logs import redact_url
from bot.records import Mark, Paper, SearchOutcome, render_marks, usable_url
from bot.replies import (
    BotStats,
    Chat,
    ChatSettings,
    Digest,
    Imported,
    NothingToSend,
    Planned,
    SettingReply,
    SourcesReply,
    Subscribed,
    Timing,
    Unsubscribed,
    Welcome,
)
from bot.schedule import SCHEDULE_USAGE, local_day, zone
from bot.trending import Trend

# Telegram refuses longer messages (counted after entity parsing; the markup we add only
# makes the raw text longer, so checking the raw text is safe).
MESSAGE_LIMIT = 4096
EXCERPT = 300
TITLE_LIMIT = 300
# /stats lists at most this many failing sources; a source's location and error are cut.
FAILING_SHOWN = 20
SOURCE_SHOWN = 200
# A /subscribe reply shows at most this many questioned keywords and counts of matches.
QUESTIONS_SHOWN = 3
COUNTS_SHOWN = 10

T = TypeVar("T")


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:.-") + "…"


def link(url: str, label: str) -> str:
    return f'<a href="{escape(url, quote=True)}">{escape(label)}</a>'


def linked_title(title: str, url: str | None) -> str:
    bold = f"<b>{escape(cut(title, TITLE_LIMIT))}</b>"
    usable = usable_url(url)
    return f'<a href="{escape(usable, quote=True)}">{bold}</a>' if usable else bold


def paper_links(paper: Paper) -> str:
    links = [
        link(url, label)
        for url, label in (
            (paper.abs_url, "arXiv"),
            (paper.pdf_url, "PDF"),
            (usable_url(paper.code_url), "code"),
            (usable_url(paper.project_url), "project"),
        )
        if url
    ]
    return " · ".join(links)


def paper_block(paper: Paper, why: str | None = None, excerpt: int = EXCERPT) -> str:
    """One paper: bold linked title, why it matched, an abstract excerpt, its links."""
    lines = [linked_title(paper.title, paper.link)]
    if why:
        lines.append(f"<i>{escape(why)}</i>")
    if paper.abstract:
        lines.append(escape(cut(paper.abstract, excerpt)))
    links = paper_links(paper)
    if links:
        lines.append(links)
    return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    """ "1 paper", "2 papers"."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def pack(
    items: Iterable[tuple[str, T]],
    header: str = "",
    separator: str = "\n\n",
    limit: int = MESSAGE_LIMIT,
    *,
    numbered: bool = False,
) -> list[tuple[str, list[T]]]:
    """Blocks joined into as few messages as fit under `limit`, never splitting a block;
    each message comes with the payloads of the blocks it carries. `numbered`: each block
    starts with its number within its message ("1. "), which the feedback buttons under
    the message repeat.

    A block is complete HTML (a paper, a list item) and far shorter than the limit by
    construction, so no message ends inside a tag.
    """
    messages: list[tuple[str, list[T]]] = []
    text, payloads = header, list[T]()
    for block, payload in items:
        # The longest prefix a block can get is checked: numbers restart in a new message.
        if len(block) + (len(f"{MESSAGE_LIMIT}. ") if numbered else 0) > limit:
            raise ValueError(f"a block of {len(block)} characters cannot fit in one message")
        shown = f"{len(payloads) + 1}. {block}" if numbered else block
        joined = f"{text}{separator}{shown}" if text else shown
        if len(joined) > limit:
            messages.append((text, payloads))
            joined, payloads = (f"1. {block}" if numbered else block), []
        text = joined
        payloads.append(payload)
    if text:
        messages.append((text, payloads))
    return messages


def split_messages(
    blocks: Iterable[str], header: str = "", separator: str = "\n\n", limit: int = MESSAGE_LIMIT
) -> list[str]:
    return [text for text, _ in pack(((block, None) for block in blocks), header, separator, limit)]


def search_page(outcome: SearchOutcome) -> str:
    """One page of search results, numbered, with the matched words in bold."""
    if not outcome.results and outcome.message and not outcome.matches:
        return escape(outcome.message)
    lines = []
    if outcome.message:
        lines.append(f"<i>{escape(outcome.message)}</i>")
    if not outcome.results:
        lines.append(f"No papers match “{escape(cut(outcome.query, 100))}”.")
        return "\n".join(lines)
    total = f"{outcome.matches}+" if outcome.capped else str(outcome.matches)
    last = outcome.offset + len(outcome.results)
    if outcome.offset == 0 and not outcome.more and not outcome.capped:
        # All of them on one page: "1 paper matches", not "Papers 1 to 1 of 1".
        verb = "matches" if outcome.matches == 1 else "match"
        lines.append(f"{plural(outcome.matches, 'paper')} {verb}:")
    else:
        lines.append(f"Papers {outcome.offset + 1} to {last} of {total}:")
    for number, result in enumerate(outcome.results, start=outcome.offset + 1):
        when = f" ({result.date:%Y-%m-%d})" if result.date else ""
        snippet = render_marks(escape(cut(result.snippet, EXCERPT)), "<b>", "</b>")
        lines.append(f"\n{number}. {linked_title(result.title, result.url)}{when}\n{snippet}")
    if outcome.capped and not outcome.more and not outcome.message:
        # The last page of a search ranked among its newest matches (storage/search.py): say
        # why no next page is offered though the count is "N+".
        lines.append("\n<i>Only the newest matches are listed: older papers may match too.</i>")
    return "\n".join(lines)


def preformatted(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A text shown verbatim in <pre> blocks, split between lines to fit each message."""
    wrap = len("<pre></pre>")
    lines = (escape(line, quote=False) for line in text.splitlines())
    return [
        f"<pre>{chunk}</pre>" for chunk in split_messages(lines, separator="\n", limit=limit - wrap)
    ]


def listing(label: str, items: list[str], limit: int) -> list[str]:
    """ "Subscribed to: a, b" as a line, or no line for no items."""
    return [label + escape(cut(", ".join(items), limit))] if items else []


def refusals(refused: list[tuple[Keyword, str]]) -> list[str]:
    """One line per reason: “a”, “x” were not added: single letters match ..."""
    by_reason: dict[str, list[str]] = {}
    for keyword, reason in refused:
        by_reason.setdefault(reason, []).append(f"“{keyword.stored}”")
    return [
        escape(cut(", ".join(shown), 500))
        + (" was" if len(shown) == 1 else " were")
        + f" not added: {reason}"
        + ("" if reason.endswith(("?", ".")) else ".")
        for reason, shown in by_reason.items()
    ]


def questions(
    questioned: list[tuple[Keyword, list[str]]], command: str, *, nothing_added: bool
) -> list[str]:
    """A keyword that looks like several: the command with commas, and how to keep it."""
    lines = [
        f"“{escape(keyword.stored)}” looks like {len(parts)} keywords. Did you mean "
        f"<code>{escape(command + ', '.join(parts))}</code>? Use commas between keywords. "
        + ("Nothing was added." if nothing_added else "It was not added.")
        + f" To keep it as one phrase, quote it: <code>{escape(command)}"
        f"&quot;{escape(keyword.stored)}&quot;</code>."
        for keyword, parts in questioned[:QUESTIONS_SHOWN]
    ]
    if len(questioned) > QUESTIONS_SHOWN:
        lines.append(f"… and {len(questioned) - QUESTIONS_SHOWN} more like these, not added.")
    return lines


def counts(found: list[Count], papers: int, *, newest: bool) -> list[str]:
    """How many of the `papers` stored papers (the newest ones, if `newest`) each keyword
    matches now."""
    if not papers:
        return ["No papers are stored yet: the digests start with the first ones."]
    among = f"the newest {papers:,}" if newest else f"the {plural(papers, 'stored paper')}"
    lines = [f"Matches among {among} now:"]
    for count in found[:COUNTS_SHOWN]:
        what = plural(count.papers, "paper") + (" left out" if count.keyword.exclude else "")
        if not count.papers:
            what = "no paper to leave out yet" if count.keyword.exclude else "no paper yet"
        if count.suggestion:
            what += f"; did you mean “{escape(count.suggestion)}”?"
        lines.append(f"• {escape(cut(count.keyword.stored, 60))}: {what}")
    if len(found) > COUNTS_SHOWN:
        lines.append(f"• … and {len(found) - COUNTS_SHOWN} more (/latest shows what matches)")
    return lines


def next_digest(at: datetime | None, now: datetime, timezone: str) -> str:
    """When the next digest comes, in the chat's time zone; `at` None: digests are paused."""
    if at is None:
        return "Digests are paused: /resume to get them again."
    if at <= now:
        return "Next digest: due now."
    local = at.astimezone(zone(timezone))
    days = (local.date() - local_day(now, timezone)).days
    day = {0: "today", 1: "tomorrow"}.get(days, f"{local:%a %d %b}")
    return f"Next digest: {day} at {local:%H:%M} ({escape(timezone)})."


def next_step(channel: str = "") -> str:
    """What to try once keywords are added; `channel` ("@papers", escaped): the commands a
    private chat manages it with name it."""
    if channel:
        return (
            f"Try <code>/latest {channel}</code> now, or <code>/digest {channel}</code> for its "
            f"first digest; <code>/time {channel} 07:30</code> sets when it comes."
        )
    return "Try /latest now, or /digest for your first digest; /time sets when it comes."


def fit(lines: list[str], limit: int) -> str:
    """Whole lines (each complete HTML) up to `limit` characters, "…" for those left out;
    the last line is always kept."""
    if not lines:
        return ""
    *body, last = lines
    kept: list[str] = []
    size = len(last)
    for line in body:
        if size + len(line) + 1 > limit - 2:
            line = "…"  # a line that does not fit is left out, and the others still tried
            if kept and kept[-1] == line:
                continue
        kept.append(line)
        size += len(line) + 1
    return "\n".join([*kept, last])


# Feedback buttons: "fb:<action>:<paper id>". Each button says what a tap does given what
# it shows (👍 likes, 👍✓ takes the like back), so a repeated tap on a stale keyboard does
# the same thing again rather than undoing itself. Ids are strict ASCII digits: callback
# data comes from the client and can be forged.
FEEDBACK_PREFIX = "fb:"
# Paper ids are INTEGER rows: nine digits stay within PostgreSQL's range (a forged longer
# one would make the database raise instead of being refused).
FEEDBACK_DATA = re.compile(r"fb:(up|down|clear|save|unsave|sim):([0-9]{1,9})")
_LABEL_NUMBER = re.compile(r"([0-9]{1,3}) ")


def feedback_row(number: int, paper_id: int, mark: Mark | None) -> list[InlineKeyboardButton]:
    """[1 👍] [1 👎] [1 🔖] [1 ≈] for the paper numbered `number`, ✓ on what is chosen."""
    mark = mark or Mark()

    def button(label: str, chosen: bool, action: str, undo: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            f"{number} {label}" + ("✓" if chosen else ""),
            callback_data=f"{FEEDBACK_PREFIX}{undo if chosen else action}:{paper_id}",
        )

    return [
        button("👍", mark.rating > 0, "up", "clear"),
        button("👎", mark.rating < 0, "down", "clear"),
        button("🔖", mark.saved, "save", "unsave"),
        InlineKeyboardButton(f"{number} ≈", callback_data=f"{FEEDBACK_PREFIX}sim:{paper_id}"),
    ]


def feedback_keyboard(
    paper_ids: Sequence[int],
    marks: Mapping[int, Mark],
    *,
    first: int = 1,
    extra: Sequence[Sequence[InlineKeyboardButton]] = (),
) -> InlineKeyboardMarkup | None:
    """One row of feedback buttons per paper of a message (numbered from `first`, as the
    message numbers them), then the `extra` rows ("N more", paging)."""
    rows = [
        feedback_row(number, paper_id, marks.get(paper_id))
        for number, paper_id in enumerate(paper_ids, start=first)
    ]
    rows += [list(row) for row in extra if row]
    return InlineKeyboardMarkup(rows) if rows else None


def parse_feedback(data: str) -> tuple[str, int] | None:
    """The action and paper id of a feedback button's data; None if it is not one."""
    found = FEEDBACK_DATA.fullmatch(data)
    return (found.group(1), int(found.group(2))) if found else None


def _feedback_paper(row: Sequence[InlineKeyboardButton]) -> tuple[int, int] | None:
    """(number shown, paper id) of a row of feedback buttons; None for any other row."""
    for button in row:
        parsed = (
            parse_feedback(button.callback_data) if isinstance(button.callback_data, str) else None
        )
        if parsed is not None:
            number = _LABEL_NUMBER.match(button.text)
            return (int(number.group(1)) if number else 0), parsed[1]
    return None


def feedback_papers(markup: InlineKeyboardMarkup | None) -> list[int]:
    """The paper ids of a keyboard's feedback rows, in order."""
    rows = markup.inline_keyboard if markup else ()
    return [found[1] for row in rows if (found := _feedback_paper(row))]


def refreshed_keyboard(
    markup: InlineKeyboardMarkup, marks: Mapping[int, Mark]
) -> InlineKeyboardMarkup:
    """The keyboard with its feedback rows showing `marks`; other rows kept as they are."""
    rows: list[list[InlineKeyboardButton]] = []
    for position, row in enumerate(markup.inline_keyboard, start=1):
        found = _feedback_paper(row)
        if found is None:
            rows.append(list(row))
        else:
            number, paper_id = found
            rows.append(feedback_row(number or position, paper_id, marks.get(paper_id)))
    return InlineKeyboardMarkup(rows)


def more_row(chat_id: int, more: int) -> list[InlineKeyboardButton]:
    """The digest's "N more" button, as a keyboard row (none when nothing waits)."""
    if not more:
        return []
    return [InlineKeyboardButton(f"{more} more", callback_data=f"digest:{chat_id}")]


def digest(plan: Digest) -> tuple[list[tuple[str, list[int]]], list[tuple[str, list[int]]]]:
    """A digest's messages, each with the ids of the papers it carries: the keyword
    matches', then the recommendations'."""
    shown, total = len(plan.matches), plan.matching
    count = f"{shown} of {total}" if plan.more else str(shown)
    noun = "new paper" if total == 1 else "new papers"
    header = f"📬 <b>{count} {noun}</b> for your keywords" + (" this week" if plan.weekly else "")
    return (
        planned_papers(plan.matches, header),
        planned_papers(plan.recommended, "✨ <b>Recommended for you</b>"),
    )


def planned_papers(papers: Sequence[Planned], header: str) -> list[tuple[str, list[int]]]:
    """Papers, each with why it is there, as numbered messages under `header` (none for no
    papers), each with the ids it carries."""
    blocks = ((paper_block(p.paper, p.why), p.paper_id) for p in papers)
    return pack(blocks, header=header, numbered=True) if papers else []


# Keywords listed inline in a reply are cut to this much: 50 keywords of 100 characters
# would not fit a message (/keywords lists them all, over several messages if need be).
LISTING = 1_500


def whose(chat: Chat, things: str) -> str:
    """ "your keywords" in a private chat, "the keywords of Reading group" elsewhere."""
    if chat.private:
        return f"your {things}"
    return f"the {things} of {escape(chat.name)}"


def heading(chat: Chat, what: str) -> str:
    """ "Your keywords" in a private chat, "Keywords of Reading group" elsewhere."""
    if chat.private:
        return f"<b>Your {what.lower()}</b>"
    return f"<b>{what} of {escape(chat.name)}</b>"


def when(schedule: str, at: time, timezone: str) -> str:
    """ "daily at 08:00 (UTC)", "weekly on Friday at 07:30 (Europe/Berlin)"."""
    return f"{schedule} at {at:%H:%M} ({escape(timezone)})"


def settings(chat: Chat, found: ChatSettings | None) -> str:
    """/settings; `found` None: nothing is stored about the chat."""
    if found is None:
        return "Nothing is stored yet: /start to begin."
    have = found.keywords
    return "\n".join(
        [
            heading(chat, "Settings"),
            f"Digest: {found.state}, {when(found.schedule, found.at, found.timezone)} "
            "(/schedule, /time, /timezone)",
            "On days with nothing new: "
            + ("a short note" if found.notify_empty else "no message")
            + " (/nothingnew)",
            "Recommendations: " + ("on" if found.recommend else "off") + " (/recommend)",
            f"Keywords ({len(have)}): "
            + (escape(cut(", ".join(have), LISTING)) if have else "none"),
            f"Papers sent so far: {found.delivered}",
        ]
    )


NO_KEYWORDS = "No keywords yet. Add some with <code>/subscribe keyword, keyword</code>."


def latest(chat: Chat, found: Sequence[Planned] | None) -> list[tuple[str, list[int]]]:
    """/latest: numbered messages of the papers, each with the ids it carries; `found` None:
    the chat has no keywords."""
    if found is None:
        return [(NO_KEYWORDS, [])]
    if not found:
        return [(f"No stored paper matches {whose(chat, 'keywords')} yet.", [])]
    return planned_papers(found, heading(chat, "Latest papers"))


def keyword_list(chat: Chat, have: Sequence[str]) -> list[str]:
    """/keywords: the chat's keywords, a line each, in as many messages as they take."""
    if not have:
        return [NO_KEYWORDS]
    header = f"{heading(chat, 'Keywords')} ({len(have)}):"
    return split_messages((f"• {escape(k)}" for k in have), header=header, separator="\n")


def similar_header(paper: Paper) -> str:
    return f"≈ Papers like {linked_title(paper.title, paper.link)}"


def numbered_papers(
    papers: Iterable[tuple[int, Paper]], header: str, why: str | None = None
) -> list[tuple[str, list[int]]]:
    """Papers as numbered messages under `header`, each with the ids it carries."""
    return pack(
        ((paper_block(paper, why), paper_id) for paper_id, paper in papers), header, numbered=True
    )


def _trend_why(trend: Trend) -> str:
    """ "▲ 42 upvotes · liked or saved in 3 chats": counts only, never who."""
    parts = []
    if trend.approval.upvotes:
        parts.append("▲ " + plural(trend.approval.upvotes, "upvote"))
    if trend.chats:
        parts.append(f"liked or saved in {trend.chats} chats")
    return " · ".join(parts)


def trending_papers(period: str | None, trends: Sequence[Trend]) -> list[tuple[str, list[int]]]:
    """The trending papers of the last day or week as numbered messages, each with the
    ids of the papers it carries (for their feedback buttons); no period: the usage."""
    if period is None:
        return [("Use <code>/trending day</code> or <code>/trending week</code>.", [])]
    if not trends:
        return [(f"No paper new in the last {period} has upvotes yet.", [])]
    header = f"<b>Trending</b>: the most upvoted papers new in the last {period}"
    blocks = (
        (paper_block(trend.approval.paper, _trend_why(trend)), trend.approval.paper_id)
        for trend in trends
    )
    return pack(blocks, header, numbered=True)


INLINE_DESCRIPTION = 150


def inline_description(paper: Paper, snippet: str | None = None) -> str:
    """An inline result's description, plain text: the search snippet (its marks dropped:
    the list shows no formatting), else the abstract's start."""
    text = render_marks(snippet, "", "") if snippet else paper.abstract
    return cut(text, INLINE_DESCRIPTION)


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
            lines.append(f"• {name}: {plural(report.parsed, 'paper')}, {report.new:,} new")
    new = sum(r.new for r in reports)
    failed = sum(r.status == "failed" for r in reports)
    totals = f"{plural(len(reports), 'source')}, {plural(new, 'new paper')}"
    lines.append(f"<b>{totals}, {failed} failed.</b>")
    return split_messages(lines, separator="\n")


def stats(found: BotStats) -> list[str]:
    """/stats: the figures, then the failing sources (the first FAILING_SHOWN of them), in
    as many messages as they take."""
    figures = found.figures
    when = found.last_run
    lines = [
        "<b>paperboy</b>",
        f"Papers: {figures.papers} ({figures.papers_with_arxiv_id} with an arXiv id)",
        f"Subscribers: {figures.subscribers} ({figures.active_subscribers} active)",
        f"Keywords: {figures.keywords}",
        f"Papers delivered: {figures.deliveries}",
        f"Sources: {figures.sources} ({figures.failing_sources} failing)",
        f"Digests due now: {found.due}",
        "Last scheduled ingest: "
        + (found.last_ingest[:16].replace("T", " ") if found.last_ingest else "none"),
        "Last digest run: " + (f"{when[0]:%Y-%m-%d %H:%M}: {escape(when[1])}" if when else "none"),
    ]
    if found.flood_until is not None:
        lines.append(
            f"⚠ Telegram flood wait: no digests until {found.flood_until:%Y-%m-%d %H:%M} UTC"
        )
    lines += [
        f"⚠ {escape(redact_url(location)[:SOURCE_SHOWN])}: {escape(error[:SOURCE_SHOWN])}"
        for location, error in found.failing[:FAILING_SHOWN]
    ]
    if len(found.failing) > FAILING_SHOWN:
        lines.append(f"… and {plural(len(found.failing) - FAILING_SHOWN, 'more failing source')}.")
    return split_messages(lines, separator="\n")


def _source(location: str) -> str:
    """A source as a reply shows it: a URL of thousands of characters would not fit."""
    return escape(cut(redact_url(location), SOURCE_SHOWN))


def sources(reply: SourcesReply) -> list[str]:
    """/sources' answer, the list in as many messages as it takes."""
    shown = _source(reply.location)
    if reply.done == "not a url":
        return ["Usage: <code>/sources add https://…</code> (an http or https URL)."]
    if reply.done == "refused":
        return [f"Not added: {escape(reply.reason)}."]
    if reply.done == "added":
        return [f"Added {shown}: it is ingested on every run from now on."]
    if reply.done == "not added":
        return [f"{shown} is not among the sources added with /sources add."]
    if reply.done == "removed":
        return [f"Removed {shown}."]
    if reply.done == "usage":
        return [
            "Usage: <code>/sources</code>, <code>/sources add URL</code>, "
            "<code>/sources remove URL</code>."
        ]
    if not reply.configured and not reply.added:
        return ["No sources yet. Add one with <code>/sources add URL</code>."]
    lines = ["<b>Sources</b>"]
    lines += [f"• {_source(s)} (PAPERBOY_SOURCES)" for s in reply.configured]
    lines += [f"• {_source(s)}" for s in reply.added]
    return split_messages(lines, separator="\n")


# A /subscribe reply must fit one message, with room for the settings lines /import adds.
REPLY_LIMIT = 3_500
# What /stop deletes, as its question and its answer name it.
STORED = "keywords, settings, ratings, saved papers, library and history"
NO_KEYWORDS_TO_REMOVE = "There are no keywords to remove. Add some with /subscribe."
FOLLOW_USAGE = (
    "Usage: <code>/follow Yann LeCun</code>, several separated by commas, or "
    "<code>/follow LeCun</code> for every author of that last name."
)
SCHEDULE_HELP = (
    f"Usage: <code>/schedule {SCHEDULE_USAGE}</code>, for example "
    "<code>/schedule weekly fri</code> (a weekly digest carries the week's best matches)."
)


def _when(timing: Timing) -> str:
    return when(timing.schedule, timing.at, timing.timezone)


def _next_line(timing: Timing) -> str:
    return next_digest(timing.next_at, timing.now, timing.timezone)


def welcome(found: Welcome) -> str:
    """/start's greeting."""
    lines = [
        "<b>Welcome to paperboy!</b>",
        "I send a digest of new research papers that match your keywords, "
        f"{_when(found.timing)}: /schedule, /time and /timezone change it.",
        "",
        "Subscribe with <code>/subscribe graph neural networks, pruning</code>.",
        "Typos, plurals, British spellings and acronyms (GNN, MoE) are understood; "
        "<code>-survey</code> excludes.",
    ]
    if found.keywords:
        lines += [
            "",
            f"{heading(found.chat, 'Keywords')}: "
            + escape(cut(", ".join(found.keywords), LISTING)),
        ]
    lines += ["", "/help lists everything I can do."]
    return "\n".join(lines)


def subscribed(found: Subscribed) -> str:
    """The reply to /subscribe and /follow, and an import's keywords line."""
    if found.done == "usage":
        return "Usage: <code>/subscribe keyword[, keyword...]</code>"
    if found.done == "follow usage":
        return FOLLOW_USAGE
    if found.done == "follow filter":
        return (
            FOLLOW_USAGE + " For a category: <code>/subscribe cat:cs.LG</code>; to leave an "
            "author out: <code>/subscribe -author:NAME</code>."
        )
    if found.done == "too long":
        return (
            f"A keyword can be at most {MAX_KEYWORD_LENGTH} characters; "
            f"“{escape(found.too_long[:40])}…” has {len(found.too_long)}. Nothing was added."
        )
    if found.done == "too many":
        return (
            f"At most {MAX_KEYWORDS} keywords are allowed, and there are {found.present} "
            "already. Remove some with /unsubscribe first. Nothing was added."
        )
    new = found.added
    # A channel is managed from a private chat: a suggested command must name it.
    chat = found.chat
    named = chat.title if chat.type == "channel" and chat.title else ""
    command = "/subscribe " + (f"{named} " if named else "")
    reply = [
        *listing("Subscribed to: ", [k.term for k in new if not k.exclude], LISTING),
        *listing("Excluding: ", [k.term for k in new if k.exclude], LISTING),
        *listing("Already there: ", found.already, LISTING),
        *refusals(found.refused),
        *questions(found.questioned, command, nothing_added=not new),
    ]
    if found.timing is not None:
        reply += counts(found.counts, found.papers, newest=found.newest)
        line = _next_line(found.timing)
        if found.next_step:
            # /subscribe (not /import): what to try now, on the last line, which fit keeps.
            line += "\n" + next_step(escape(named))
        reply.append(line)
    return fit(reply, REPLY_LIMIT)


def unsubscribed(found: Unsubscribed) -> str:
    if found.done == "none":
        return NO_KEYWORDS_TO_REMOVE
    if found.done == "missing":
        return f"“{escape(found.keyword[:100])}” is not among the keywords. /keywords lists them."
    return f"Unsubscribed from: {escape(found.keyword)}"


def setting(found: SettingReply) -> str:
    """The reply to /time, /schedule, /timezone, /pause, /resume, /nothingnew and
    /recommend."""
    timing = found.timing
    if found.command == "time":
        if timing is None:
            return "Usage: <code>/time HH:MM</code>, for example <code>/time 07:30</code>."
        return f"Digest {_when(timing)}.\n{_next_line(timing)}"
    if found.command == "schedule":
        if found.done == "unknown":
            return f"“{escape(found.value[:40])}” is not a schedule. {SCHEDULE_HELP}"
        assert timing is not None
        if found.done == "usage":
            return f"Digest {_when(timing)}.\n{SCHEDULE_HELP}"
        return f"Digest {_when(timing)}.\n{_next_line(timing)}"
    if found.command == "timezone":
        if found.done == "usage":
            return (
                "Usage: <code>/timezone Area/City</code>, "
                "for example <code>/timezone Europe/Berlin</code>."
            )
        if found.done == "unknown":
            return f"Unknown time zone “{escape(found.value[:64])}”. Did you mean: " + ", ".join(
                f"<code>{escape(zone)}</code>" for zone in found.suggestions
            )
        assert timing is not None
        return f"Time zone set to {escape(found.value)}; digest {_when(timing)}."
    if found.command == "pause":
        return "Paused: no daily digests until /resume."
    if found.command == "resume":
        assert timing is not None
        return f"Resumed: digest {_when(timing)}."
    if found.command == "nothingnew":
        if found.done == "usage":
            return (
                "Usage: <code>/nothingnew on</code> (a short note on days without new papers) "
                "or <code>/nothingnew off</code> (no message on those days, the default)."
            )
        if found.value == "on":
            return "On days without new papers you will get a short “nothing new today”."
        return "On days without new papers there will be no message."
    if found.done == "usage":
        return (
            f"Recommendations: {found.value}. When on, the daily digest ends with a few new "
            "papers that no keyword matched but that are like those you rated 👍 or saved 🔖.\n"
            "Usage: <code>/recommend on</code> or <code>/recommend off</code>."
        )
    if found.value == "on":
        return "Recommendations on: digests end with new papers like those you liked or saved."
    return "Recommendations off: digests carry only papers that match your keywords."


def imported(found: Imported) -> str:
    """The reply to /import: why the document was refused, or what it changed."""
    if found.refused == "not json":
        return "That is not a JSON document: send the text that /export gave you."
    if found.refused == "not an export":
        return "That is not a paperboy export: send the text that /export gave you."
    if found.refused == "bad keywords":
        return "The export's <code>keywords</code> must be a list of texts. Nothing was changed."
    reply = "".join("\n" + setting(done) for done in found.settings)
    if found.keywords is not None:
        reply += "\n" + subscribed(found.keywords)
    if (done := found.restored) is not None:
        restored = [
            plural(done.ratings, "rating"),
            plural(done.saved, "saved paper"),
            f"{done.library:,} library " + ("entry" if done.library == 1 else "entries"),
        ]
        reply += "\nRestored " + ", ".join(restored) + "."
        if done.missing:
            reply += f" Not stored here, so left out: {plural(done.missing, 'paper')}."
    return reply.strip() or "The export was empty: nothing to import."


def stop_question(chat: Chat) -> str:
    """/stop's confirmation: "Delete your keywords, ...?" or "... of Reading group?"."""
    return f"Delete {whose(chat, STORED)}? This cannot be undone."


def forgotten(chat: Chat, deleted: bool) -> str:
    """The reply to /stop's "yes": whether there was anything to delete."""
    if deleted:
        again = " /start to begin again." if chat.private else ""
        return f"Done: {whose(chat, STORED)} are deleted.{again}"
    if chat.private:
        return "There was nothing stored about you."
    return f"There was nothing stored about {escape(chat.name)}."


def nothing_to_send(chat: Chat, why: NothingToSend) -> str:
    """Why /digest sent nothing: no keywords (and how to add one), or nothing new."""
    if why == "nothing new":
        return f"Nothing new for {whose(chat, 'keywords')} right now."
    add = "Add keywords with <code>/subscribe keyword, keyword</code>"
    if why == "nothing recommended":
        return (
            "There are no keywords yet, so a digest carries only papers recommended from "
            f"your 👍 and 🔖, and none is new right now. {add} to get the papers that match them."
        )
    return f"There are no keywords yet, so there is nothing to send. {add}."
