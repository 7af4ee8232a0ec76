"""Pure parts of links, /trending and inline mode: Paper.link, ranking, ids, the cache."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import inline, trending
from bot.records import Paper
from storage.feedback import Approval


@pytest.mark.parametrize(
    ("paper", "link"),
    [
        (
            Paper("T", arxiv_id="2401.00002", project_url="https://p.org"),
            "https://arxiv.org/abs/2401.00002",
        ),
        (
            Paper("T", project_url="https://p.org", code_url="https://github.com/a/b"),
            "https://p.org",
        ),
        (Paper("T", code_url="https://github.com/a/b"), "https://github.com/a/b"),
        (
            Paper("T", project_url="javascript:alert(1)"),
            "https://arxiv.org/search/?query=T&searchtype=title",
        ),
        (
            Paper("T", project_url="https://p.org/" + "x" * 600),
            "https://arxiv.org/search/?query=T&searchtype=title",
        ),
        (
            Paper("A & B: 50%?"),
            "https://arxiv.org/search/?query=A+%26+B%3A+50%25%3F&searchtype=title",
        ),
    ],
)
def test_every_paper_has_one_link(paper: Paper, link: str) -> None:
    assert paper.link == link


def approval(paper_id: int, upvotes: int, chats: int = 0) -> Approval:
    return Approval(paper_id, Paper(f"Paper {paper_id}"), upvotes, chats)


def test_trending_adds_chats_only_from_three() -> None:
    assert trending.score(approval(1, 5, 2)) == 5
    assert trending.score(approval(1, 5, 3)) == 8
    assert trending.score(approval(1, 0, 2)) == 0
    ranked = trending.rank([approval(1, 4), approval(2, 2, 3), approval(3, 0, 2), approval(4, 5)])
    # 2 and 4 tie at 5: the one with more upvotes goes first.
    assert [(t.approval.paper_id, t.score, t.chats) for t in ranked] == [
        (4, 5, 0),
        (2, 5, 3),
        (1, 4, 0),
    ]
    assert len(trending.rank([approval(n, n + 1) for n in range(30)])) == trending.TOP


def test_trending_periods() -> None:
    assert trending.period("") == "week"
    assert trending.period(" Day ") == "day"
    assert trending.period("month") is None
    now = datetime(2026, 11, 30, tzinfo=UTC)
    assert trending.since(now, "day") == datetime(2026, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "wanted"),
    [
        ("2401.01234", "2401.01234"),
        ("arXiv:2401.01234v2", "2401.01234"),
        ("https://arxiv.org/abs/2401.01234", "2401.01234"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("pruning 2401.01234", None),
        ("pruning", None),
    ],
)
def test_an_arxiv_id_alone_is_looked_up(typed: str, wanted: str | None) -> None:
    assert inline.wanted_id(typed) == wanted


def test_offsets_are_ours_or_start_over() -> None:
    assert [inline.offset_of(o) for o in ("", "20", "x", "-5", "99999", "²")] == [
        0,
        20,
        0,
        0,
        inline.MAX_OFFSET,
        0,
    ]


def test_recent_queries_expire_and_stay_bounded() -> None:
    now = [0.0]
    recent = inline.RecentQueries(seconds=60, size=2, clock=lambda: now[0])
    page = inline.Page(())
    recent.put("graph  neural", "", page)
    assert recent.get("graph neural", "") is page
    assert recent.get("graph neural", "20") is None
    now[0] = 60
    assert recent.get("graph neural", "") is None
    for query in ("a", "b", "c"):
        recent.put(query, "", page)
    assert [recent.get(q, "") for q in ("a", "b", "c")] == [None, page, page]
