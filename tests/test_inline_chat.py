"""Inline mode, /trending and every paper's link, end to end: the real PTB stack against
the Bot API stand-in (the `bot` fixture of tests/test_bot.py), every call checked."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import update

from bot import inline
from bot.records import Paper
from bot.schedule import utc_now
from storage import queries
from storage.models import PaperRow
from tests.conftest import BACKENDS
from tests.test_bot import ADMIN, ALICE, BOB, GROUP, Bot, bot

# The chat flows here do not depend on the database: SQLite only (tests/conftest.py);
# the tests below that store, move or delete data run on both backends.
pytestmark = pytest.mark.backends("sqlite")

__all__ = ["bot"]  # the fixture, imported for these tests

TITLE_LINK = re.compile(r'<a href="([^"]+)"><b>')


def store(bot: Bot, papers: list[Paper], when: datetime) -> None:
    with bot.sessions.begin() as session:
        queries.store_papers(session, papers, when)


def titles_linked(html: str) -> list[str]:
    """The links of the bold titles in a message's HTML, unescaped."""
    return [unescape(url) for url in TITLE_LINK.findall(html)]


@pytest.mark.backends(*BACKENDS)
async def test_inline_search_ranks_as_search_and_sends_a_linked_paper(bot: Bot) -> None:
    answer = await bot.api.ask_inline(ALICE, "pruning experts", chat_type="group")
    assert answer.cache_time == inline.CACHE_SECONDS
    assert answer.is_personal is False
    first = answer.results[0]
    assert first["title"] == "Pruning Mixture-of-Experts"  # the title match, as /search ranks
    assert first["url"] == "https://arxiv.org/abs/2401.00002"
    assert "prune MoE experts" in first["description"]
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert titles_linked(content["message_text"]) == ["https://arxiv.org/abs/2401.00002"]
    # Sent into the group: it shows the paper, and the bot does not answer it.
    before = len(bot.api.sent(GROUP))
    bot.api.user_chooses(ALICE, answer, first["id"], chat_id=GROUP)
    await bot.api.wait_idle()
    assert "Pruning Mixture-of-Experts" in bot.api.transcript(GROUP)
    assert len(bot.api.sent(GROUP)) == before
    # In a private chat with the bot, a paper sent via it gets no "commands only" either.
    bot.api.user_chooses(BOB, answer, first["id"])
    await bot.api.wait_idle()
    assert bot.api.sent(BOB) == []


@pytest.mark.backends(*BACKENDS)
@pytest.mark.parametrize("typed", ["2401.00002", "arXiv:2401.00002v3", " 2401.00002v1 "])
async def test_an_arxiv_id_finds_its_paper(bot: Bot, typed: str) -> None:
    answer = await bot.api.ask_inline(ALICE, typed)
    assert [r["title"] for r in answer.results] == ["Pruning Mixture-of-Experts"]
    assert (await bot.api.ask_inline(ALICE, "2401.99999")).results == ()


async def test_inline_pages_through_the_results(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inline, "PAGE", 6)
    seen: list[str] = []
    offset = ""
    for _ in range(5):
        answer = await bot.api.ask_inline(ALICE, "pruning", offset=offset)
        seen += [r["id"] for r in answer.results]
        offset = answer.next_offset
        if not offset:
            break
    assert offset == ""
    assert len(seen) == len(set(seen)) == 14  # every pruning paper once, over three pages
    # Every paper has a link: those without an arXiv id or a page get an arXiv title search.
    again = await bot.api.ask_inline(ALICE, "pruning study 3")
    assert again.results[0]["url"].startswith("https://arxiv.org/search/?query=Pruning+Study+3")


async def test_recent_queries_are_answered_from_the_cache(bot: Bot) -> None:
    await bot.api.ask_inline(ALICE, "graph neural")
    searched = len([c for c in bot.api.calls if c.method == "answerInlineQuery"])
    store(bot, [Paper("Graph Neural Nets Revisited", "Graph neural networks again.")], utc_now())
    cached = await bot.api.ask_inline(BOB, "graph   neural")  # same text, spaced differently
    assert "Graph Neural Nets Revisited" not in [r["title"] for r in cached.results]
    assert len([c for c in bot.api.calls if c.method == "answerInlineQuery"]) == searched + 1
    recent: inline.RecentQueries = bot.app.bot_data["inline_recent"]
    recent.clock = lambda: 1e12  # a minute later
    fresh = await bot.api.ask_inline(BOB, "graph neural")
    assert "Graph Neural Nets Revisited" in [r["title"] for r in fresh.results]


async def test_the_empty_query_offers_trending_papers_and_a_hint(bot: Bot) -> None:
    store(
        bot, [Paper("Hot Paper", "Everyone upvotes this one.", "2611.00001", upvotes=9)], utc_now()
    )
    answer = await bot.api.ask_inline(ALICE, "")
    assert [r["title"] for r in answer.results] == ["Hot Paper"]
    assert answer.button == {"text": inline.EMPTY_HINT, "start_parameter": inline.EMPTY_START}


@pytest.mark.backends(*BACKENDS)
async def test_trending_by_upvotes_day_and_week(bot: Bot) -> None:
    now = utc_now()
    store(bot, [Paper("Upvoted Today", "New and liked.", "2611.00011", upvotes=5)], now)
    store(bot, [Paper("Popular Today", "New and loved.", "2611.00012", upvotes=40)], now)
    store(
        bot,
        [Paper("Upvoted Days Ago", "Older.", "2611.00013", upvotes=90)],
        now - timedelta(days=3),
    )
    store(
        bot,
        [Paper("Upvoted Long Ago", "Old.", "2611.00014", upvotes=900)],
        now - timedelta(days=30),
    )
    day = await bot.say(ALICE, "/trending day")
    assert day.index("Popular Today") < day.index("Upvoted Today")
    assert "Upvoted Days Ago" not in day
    assert "▲ 40 upvotes" in day
    week = await bot.say(ALICE, "/trending")
    assert week.index("Upvoted Days Ago") < week.index("Popular Today")
    assert "Upvoted Long Ago" not in week
    [message] = [m for m in bot.api.sent(ALICE) if "Upvoted Days Ago" in m.shown]
    assert titles_linked(message.text or "")[0] == "https://arxiv.org/abs/2611.00013"
    assert "1 👍" in bot.api.transcript(ALICE)  # its papers can be rated like any other
    assert "/trending day" in await bot.say(ALICE, "/trending month")


async def like_from(bot: Bot, users: list[int], query: str) -> None:
    for user in users:
        await bot.say(user, f"/search {query}")
        await bot.press(user, "1 👍")


@pytest.mark.backends(*BACKENDS)
async def test_trending_counts_likes_and_saves_from_three_different_chats(bot: Bot) -> None:
    # /trending reads the clock: the fixture's papers (first seen on a fixed day) made new.
    with bot.sessions.begin() as session:
        session.execute(update(PaperRow).values(first_seen_at=utc_now() - timedelta(days=1)))
    # No upvotes anywhere: two chats liking a paper is not enough to show it.
    await like_from(bot, [ALICE, BOB], "Graph Neural Networks at Scale")
    assert "No paper new in the last week" in await bot.say(ALICE, "/trending week")
    # A third chat saving it (and Alice liking it again) makes three different chats.
    await bot.say(ADMIN, "/search Graph Neural Networks at Scale")
    await bot.press(ADMIN, "1 🔖")
    trending = await bot.say(ALICE, "/trending week")
    assert "Graph Neural Networks at Scale" in trending
    assert "liked or saved in 3 chats" in trending
    assert "Alice" not in trending
    assert "Bob" not in trending
    assert "Ada" not in trending
    # The link of a paper without arXiv id or page: an arXiv title search.
    [message] = [m for m in bot.api.sent(ALICE) if "liked or saved in 3" in m.shown]
    assert titles_linked(message.text or "") == [
        "https://arxiv.org/search/?query=Graph+Neural+Networks+at+Scale&searchtype=title"
    ]


async def test_every_title_is_linked_in_search_latest_and_digests(bot: Bot) -> None:
    """Seed papers have no arXiv id: each title still links somewhere."""
    await bot.say(ALICE, "/subscribe pruning")
    for command in ("/search pruning", "/latest", "/digest"):
        before = len(bot.api.sent(ALICE))
        await bot.say(ALICE, command)
        for message in bot.api.sent(ALICE)[before:]:
            html = message.text or ""
            numbered = re.findall(r"^\d+\. (.{9})", html, re.MULTILINE)
            assert numbered, (command, html)
            assert numbered == ['<a href="'] * len(numbered), (command, html)
            assert len(titles_linked(html)) == len(numbered)
