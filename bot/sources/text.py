"""Small pure helpers shared by the parsers: decoding, clean text, arXiv ids and links.

Every regex here runs on text a page controls, so each one is linear in its input: no
nested or adjacent unbounded repetition that can backtrack over the same characters.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from itertools import islice

from bot.records import usable_url
from bot.sources.errors import ParseError

# Control characters other than tab, newline and carriage return never occur in a real page:
# a few are a stray ESC or BEL pasted into an abstract, and are dropped; a page with more than
# one in BINARY_SHARE of its characters is binary, not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BINARY_SHARE = 100
# What no stored text keeps: C0 and C1 controls and DEL (a NUL fails a PostgreSQL insert, an
# ESC sequence reaches a terminal through `paperboy search`); lone surrogates, which JSON's
# "\ud800" escape makes and no database can encode; and the bidi embeddings, overrides and
# isolates, which make a title display as text it does not hold. The controls str.split()
# takes for whitespace (\t-\r, \x1c-\x1f, \x85) are left to it: they separate words.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
)

# New-style ids (2401.01234, 0704.0001) and old-style ones (hep-th/9901001), version optional.
# ASCII only: \d would also take other scripts' digits, which no arXiv id holds. Archive
# names (hep-th, cond-mat) are short; the bound keeps a page's id within the column.
_ARXIV_ID = re.compile(
    r"(?:^|[/:\s])(?P<id>\d{4}\.\d{4,5}|[a-z][a-z.-]{0,14}[a-z](?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$",
    re.ASCII,
)
# Bounds on what one page may bring, far above any real one (arXiv takes abstracts of up to
# 1,920 characters; a day's listing of all of cs holds about 1,500 papers, an API answer at
# most 2,000), so that a hostile page cannot make parsing, storing and indexing take minutes.
TITLE_LIMIT = 1_000
ABSTRACT_LIMIT = 10_000
NAME_LIMIT = 200  # an author's name, a keyword, a category
LIST_LIMIT = 5_000  # a paper's authors, keywords or categories
# The papers of one page: well above a real listing (a 100,000-paper page is legitimate),
# low enough that a page of tiny items cannot make millions of records.
MAX_PAPERS = 200_000

# A tag is what lies between a "<" and the next ">" with no "<" between: linear to find.
# Tags that break a line become a space, others nothing ("f<sub>2</sub>" is "f2").
_BREAKING_TAG = re.compile(r"</?(?:p|div|br|li|tr|td|th|h[1-6]|blockquote|pre)\b[^<>]*>", re.I)
_TAG = re.compile(r"<[^<>]*>")

_URL = re.compile(r"https?://[^\s<>\"'{}|\\^`]+")
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "huggingface.co", "codeberg.org")
_PAPER_HOSTS = ("arxiv.org", "doi.org")


def decode_text(data: bytes) -> str:
    """Decode a page as UTF-8 text, refusing binary content."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    text, controls = _CONTROL.subn("", text)
    if controls * BINARY_SHARE > len(text):
        raise ParseError("binary content (control characters), not a page")
    if not text.strip():
        raise ParseError("empty page")
    return text


def squash(text: str, limit: int | None = None) -> str:
    """Text fit to store and show: unprintable characters (see _UNPRINTABLE) removed and
    runs of whitespace, newlines included, collapsed into single spaces; at most `limit`
    characters, cut at a space where there is one. Every text field a parser makes goes
    through here."""
    if limit is not None:
        # No real field pads its text with this much whitespace; cutting first makes a huge
        # field cost time and memory in proportion to the limit, not to the page.
        text = text[: 8 * limit]
    squashed = " ".join(_UNPRINTABLE.sub("", text).split())
    if squashed == text:
        # The field itself, not an equal copy: a long page then holds each text once.
        squashed = text
    if limit is None or len(squashed) <= limit:
        return squashed
    head = squashed[:limit]
    return head.rsplit(" ", 1)[0] if " " in head else head


def plain_text(markup: str) -> str:
    """The text of an HTML fragment: tags dropped, character references resolved. (Not an
    HTML parser: those take time quadratic in some hostile markup, such as "<!--" repeated.)"""
    return html.unescape(_TAG.sub("", _BREAKING_TAG.sub(" ", markup)))


def names(values: Iterable[str]) -> tuple[str, ...]:
    """Authors, keywords or categories as stored: squashed, without empty ones, each and
    their number within bounds."""
    return tuple(islice(filter(None, (squash(value, NAME_LIMIT) for value in values)), LIST_LIMIT))


def check_paper_count(count: int) -> None:
    if count > MAX_PAPERS:
        raise ParseError(f"{count:,} papers on one page, more than the {MAX_PAPERS:,} allowed")


def arxiv_id(raw: str) -> str | None:
    """The versionless arXiv id in an id, URL or OAI identifier, or None if it holds none."""
    candidate = raw.strip().removesuffix(".pdf")
    if candidate.lower().startswith("arxiv:"):
        candidate = candidate[len("arxiv:") :]
    match = _ARXIV_ID.search(candidate)
    return match.group("id") if match else None


def _clean_url(url: str) -> str:
    # Abstracts glue sentence punctuation and LaTeX leftovers to their URLs.
    return url.rstrip(".,;:!?)]*~")


def links_in(text: str) -> tuple[str | None, str | None]:
    """The first code-repository URL and the first project-page URL mentioned in a text."""
    code: str | None = None
    project: str | None = None
    for raw in _URL.findall(text):
        url = usable_url(_clean_url(raw))
        if url is None:
            continue
        host = url.split("/")[2].lower().removeprefix("www.")
        if host in _PAPER_HOSTS or host.endswith(".arxiv.org"):
            continue
        if host in _CODE_HOSTS:
            code = code or url
        else:
            project = project or url
    return code, project
