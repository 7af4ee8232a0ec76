"""Hugging Face paper listings saved as plain text.

Two layouts occur: blocks separated by blank lines, and one line per field with the
"Subscribe" button glued to the first title. Either way the content is page furniture,
an optional date line ("Mar 11"), then title and abstract lines in turn.
"""

from __future__ import annotations

import re

from bot.records import Paper, ParsedPage
from bot.sources.errors import ParseError
from bot.sources.text import ABSTRACT_LIMIT, check_paper_count, links_in, squash

NAME = "hf-text"

MAX_TITLE = 300
MIN_ABSTRACT = 80

_FURNITURE = frozenset({"new", "subscribe", "byak and the research community"})
_FURNITURE_PREFIX = "get trending papers in your email inbox"
_BUTTON = "Subscribe"
# At most "September 30, 2025": the line is stored as the page's date hint, 32 characters.
_DATE_LINE = re.compile(
    r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]{0,6}\.? \d{1,2}(?:, \d{4})?$"
)
# A page cut short ends inside an abstract; a whole abstract ends a sentence or with a link.
_SENTENCE_END = tuple(".!?)]\"'\u201d\u2019}")
_LINK = re.compile(r"https?://\S")


def _is_furniture(line: str) -> bool:
    lowered = line.casefold()
    return lowered in _FURNITURE or lowered.startswith(_FURNITURE_PREFIX)


def _content_lines(text: str) -> tuple[list[tuple[int, str]], str | None]:
    """Numbered title/abstract fields with furniture removed, and the page's date line if any.

    When blank lines separate the content, each block is one field (a wrapped abstract spans
    several lines); a page with no blank lines between its content has one field per line.
    """
    # Each block is joined as soon as it ends, so that a page of many blocks never holds a
    # list per block (most of the memory an ingest of a long page took); the first block's
    # lines are kept in case it is the only one.
    first: list[tuple[int, str]] = []
    block: list[tuple[int, str]] = []
    fields: list[tuple[int, str]] = []
    date_hint: str | None = None
    # Until the button shows up on a line of its own, it may be glued to the first title
    # ("SubscribeStitchable ..."); a title that merely starts with "Subscribe" elsewhere stays.
    button_pending = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            if block:
                fields.append((block[0][0], " ".join(line for _, line in block)))
                first = first or block
                block = []
        elif _DATE_LINE.match(line):
            date_hint = date_hint or line
        elif _is_furniture(line):
            button_pending = button_pending and line != _BUTTON
        else:
            if button_pending and line.startswith(_BUTTON):
                line = line[len(_BUTTON) :].lstrip()
            button_pending = False
            block.append((number, line))
    if block:
        fields.append((block[0][0], " ".join(line for _, line in block)))
        first = first or block
    if len(fields) == 1:
        return first, date_hint
    return fields, date_hint


def _complete(abstract: str) -> bool:
    # A link is looked for in the last word alone: one regex for "a link, then the end"
    # backtracks over every "http://" of a long word, minutes on a hostile page.
    words = abstract.rsplit(maxsplit=1)
    return abstract.endswith(_SENTENCE_END) or bool(words and _LINK.search(words[-1]))


def sniff(text: str) -> bool:
    head = text.lstrip()[:1]
    if head in ("<", "{", "["):
        return False
    lines, _ = _content_lines(text[:20_000])
    if any(_is_furniture(line.strip()) for line in text.splitlines()[:12]):
        return True
    # A page saved without its furniture still starts with a title line and a longer abstract.
    return (
        len(lines) >= 2
        and len(lines[0][1]) <= MAX_TITLE
        and len(lines[1][1]) >= max(MIN_ABSTRACT, len(lines[0][1]))
    )


def parse(text: str) -> ParsedPage:
    lines, date_hint = _content_lines(text)
    if not lines:
        raise ParseError("text page holds no papers (only page furniture)")
    check_paper_count((len(lines) + 1) // 2)
    papers: list[Paper] = []
    for index in range(0, len(lines), 2):
        title_no, title = lines[index]
        if len(title) > MAX_TITLE:
            raise ParseError(
                f"line {title_no}: expected a paper title, found {len(title)} characters of text"
            )
        title = squash(title)
        if not title:
            raise ParseError(f"line {title_no}: the title holds no printable text")
        if index + 1 >= len(lines):
            raise ParseError(
                f"truncated page: line {title_no}: title {title[:60]!r} has no abstract"
            )
        abstract_no, abstract = lines[index + 1]
        if len(abstract) < MIN_ABSTRACT:
            raise ParseError(
                f"line {abstract_no}: expected the abstract of {title[:60]!r}, "
                f"found a {len(abstract)}-character line"
            )
        abstract = squash(abstract, ABSTRACT_LIMIT)
        code_url, project_url = links_in(abstract)
        papers.append(
            Paper(
                title=title,
                abstract=abstract,
                code_url=code_url,
                project_url=project_url,
            )
        )
    last_no, last = lines[-1]
    if not _complete(last):
        raise ParseError(f"truncated page: line {last_no}: the last abstract stops mid-sentence")
    return ParsedPage(format=NAME, papers=tuple(papers), date_hint=date_hint)
