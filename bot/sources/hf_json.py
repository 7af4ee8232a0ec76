"""Hugging Face daily papers as JSON (`/api/daily_papers`): an array of items.

Each item wraps a `paper` object with the arXiv id, title, summary, authors and votes. The
HTML pages embed the same items, so `paper_from_item` is the one place that reads them.
Fields that are present must have the right type: a changed API should fail loudly, not
turn into papers with silently missing data. `null` counts as absent.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from bot.records import Paper, ParsedPage, usable_url
from bot.sources.errors import ParseError
from bot.sources.text import (
    ABSTRACT_LIMIT,
    TITLE_LIMIT,
    arxiv_id,
    check_paper_count,
    links_in,
    names,
    squash,
)

NAME = "hf-json"
# What the database's integer column holds.
MAX_UPVOTES = 2**31 - 1


def _kind(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def load_json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ParseError("invalid JSON: nested too deeply") from None
    except ValueError as exc:
        # Integers beyond Python's digit limit fail outside the decoder's own error type.
        raise ParseError(f"invalid JSON: {exc}") from None


def _field(obj: dict[str, object], key: str, expected: str, where: str) -> object:
    value = obj.get(key)
    if value is not None and _kind(value) != expected:
        raise ParseError(f"{where}.{key}: expected {expected}, found {_kind(value)}")
    return value


def _text(obj: dict[str, object], key: str, where: str) -> str:
    value = _field(obj, key, "string", where)
    return value if isinstance(value, str) else ""


def _url(obj: dict[str, object], key: str, where: str) -> str | None:
    # Only a web link is kept: "javascript:" or "tg://" must never become a message's link.
    return usable_url(squash(_text(obj, key, where)))


def _date(obj: dict[str, object], key: str, where: str) -> date | None:
    raw = _text(obj, key, where)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).date()
    except ValueError:
        raise ParseError(f"{where}.{key}: not an ISO date: {raw[:40]!r}") from None


def _strings(obj: dict[str, object], key: str, where: str) -> tuple[str, ...]:
    values = _field(obj, key, "array", where)
    if not isinstance(values, list):
        return ()
    if not all(isinstance(value, str) for value in values):
        raise ParseError(f"{where}.{key}: expected an array of strings")
    return names(values)


def _authors(paper: dict[str, object]) -> tuple[str, ...]:
    authors = _field(paper, "authors", "array", "paper")
    found: list[str] = []
    for index, author in enumerate(authors if isinstance(authors, list) else []):
        if not isinstance(author, dict):
            raise ParseError(f"paper.authors[{index}]: expected object, found {_kind(author)}")
        found.append(_text(author, "name", f"paper.authors[{index}]"))
    return names(found)


def paper_from_item(item: object) -> Paper:
    """Convert one daily-papers item (`{"paper": {...}, ...}`) to a Paper."""
    if not isinstance(item, dict):
        raise ParseError(f"expected object, found {_kind(item)}")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise ParseError(f"paper: expected object, found {_kind(paper)}")
    title = squash(_text(paper, "title", "paper") or _text(item, "title", "item"), TITLE_LIMIT)
    if not title:
        raise ParseError("paper has no title")
    abstract = squash(_text(paper, "summary", "paper"), ABSTRACT_LIMIT)
    upvotes = _field(paper, "upvotes", "integer", "paper")
    if isinstance(upvotes, int) and not -MAX_UPVOTES <= upvotes <= MAX_UPVOTES:
        raise ParseError("paper.upvotes: out of range")
    # The API puts the featured time on the paper; item level and publishedAt are fallbacks.
    featured_on = (
        _date(item, "submittedOnDailyAt", "item")
        or _date(paper, "submittedOnDailyAt", "paper")
        or _date(item, "publishedAt", "item")
    )
    code_in_text, project_in_text = links_in(abstract)
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id(_text(paper, "id", "paper")),
        authors=_authors(paper),
        published=_date(paper, "publishedAt", "paper"),
        featured_on=featured_on,
        upvotes=upvotes if isinstance(upvotes, int) else None,
        code_url=_url(paper, "githubRepo", "paper") or code_in_text,
        project_url=_url(paper, "projectPage", "paper") or project_in_text,
        keywords=_strings(paper, "ai_keywords", "paper"),
    )


def papers_from_items(items: object) -> tuple[Paper, ...]:
    """Convert a list of items; errors name the offending item's index."""
    if not isinstance(items, list):
        raise ParseError(f"expected an array of daily-paper items, found {_kind(items)}")
    check_paper_count(len(items))
    papers: list[Paper] = []
    for index, item in enumerate(items):
        try:
            papers.append(paper_from_item(item))
        except ParseError as exc:
            raise ParseError(f"item {index}: {exc}") from None
    return tuple(papers)


def sniff(text: str) -> bool:
    return text.lstrip().startswith("[")


def parse(text: str) -> ParsedPage:
    return ParsedPage(format=NAME, papers=papers_from_items(load_json(text)))
