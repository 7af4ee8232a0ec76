"""Inline mode: "@bot query" in any chat offers papers to send there. Pure but for the
database reads; bot/handlers.py turns a Page into Telegram's answer.

  - words: the papers /search finds for them, ranked as /search ranks them, PAGE at a time
    (Telegram asks for the next page with the offset we gave);
  - an arXiv id alone ("2401.01234", "arXiv:2401.01234v2", an arxiv.org link): that paper;
  - nothing typed: this week's /trending papers, under a button that opens the bot.

Each result carries the paper's title, link and a short snippet; choosing it sends the
paper as a digest shows it (render.paper_block). Answers are the same for everyone, so
Telegram may cache them for CACHE_SECONDS, and RecentQueries keeps them as long here.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import profile, render, service
from bot.records import Paper, SearchUnavailable
from bot.search import search
from bot.sources.text import arxiv_id

PAGE = 20  # results per answer (Telegram takes at most 50)
MAX_OFFSET = 1000  # deeper pages are not offered: nobody scrolls that far
CACHE_SECONDS = 60
CACHE_SIZE = 512  # queries kept
EMPTY_HINT = "Type words or an arXiv id to search papers"
EMPTY_START = "inline"  # /start's parameter when the hint above the results is tapped


@dataclass(frozen=True, slots=True)
class Item:
    """One result: what the list shows (title, description, link) and the HTML it sends."""

    result_id: str
    title: str
    url: str
    description: str
    html: str


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[Item, ...]
    # The offset of the next page ("" when there is none), as Telegram wants it.
    next_offset: str = ""
    # The empty query's hint above the results (opens the bot with /start EMPTY_START).
    hint: str | None = None


def normalised(query: str) -> str:
    return " ".join(query.split())


def offset_of(text: str) -> int:
    """The offset Telegram sends back: ours, a number; anything else starts over."""
    return min(int(text), MAX_OFFSET) if text.isascii() and text.isdigit() else 0


def wanted_id(query: str) -> str | None:
    """The arXiv id the query is, if it is one alone (with or without version/arXiv:)."""
    words = query.split()
    return arxiv_id(words[0]) if len(words) == 1 else None


def item(paper_id: int, paper: Paper, snippet: str | None = None) -> Item:
    return Item(
        result_id=str(paper_id),
        title=render.cut(paper.title, render.TITLE_LIMIT),
        url=paper.link,
        description=render.inline_description(paper, snippet),
        html=render.paper_block(paper),
    )


def lookup(session: Session, query: str, offset: str, now: datetime) -> Page:
    """The page of results for what the user typed, from `offset` (Telegram's string)."""
    text = normalised(query)
    if not text:
        _, trends = service.trending_papers(session, "week", now)
        return Page(
            tuple(item(t.approval.paper_id, t.approval.paper) for t in trends), hint=EMPTY_HINT
        )
    if (key := wanted_id(text)) is not None:
        found = profile.stored_paper(session, key)
        return Page((item(*found),) if found else ())
    start = offset_of(offset)
    try:
        outcome = search(session, text, limit=PAGE, offset=start)
    except SearchUnavailable:
        return Page(())
    ids = [r.paper_id for r in outcome.results if r.paper_id is not None]
    papers = profile.papers(session, ids)
    items = tuple(
        item(r.paper_id, papers[r.paper_id], r.snippet)
        for r in outcome.results
        if r.paper_id in papers
    )
    more = outcome.more and start + PAGE <= MAX_OFFSET
    return Page(items, str(start + len(outcome.results)) if more else "")


class RecentQueries:
    """Pages answered in the last `seconds`, by (query, offset): a user typing "@bot gra",
    "@bot grap", "@bot graph" and back again costs one search per text, and a popular
    query one per minute. Bounded: the oldest go first."""

    def __init__(
        self,
        seconds: float = CACHE_SECONDS,
        size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        self._pages: OrderedDict[tuple[str, str], tuple[float, Page]] = OrderedDict()

    def get(self, query: str, offset: str) -> Page | None:
        key = (normalised(query), offset)
        kept = self._pages.get(key)
        if kept is None or self.clock() - kept[0] >= self.seconds:
            self._pages.pop(key, None)
            return None
        return kept[1]

    def put(self, query: str, offset: str, page: Page) -> None:
        key = (normalised(query), offset)
        self._pages[key] = (self.clock(), page)
        self._pages.move_to_end(key)
        while len(self._pages) > self.size:
            self._pages.popitem(last=False)
