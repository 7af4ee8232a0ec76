"""arXiv feeds: Atom API responses (export.arxiv.org/api/query) and listing feeds (rss.arxiv.org).

feedparser reads every variant; this module turns its loosely typed entries into Papers.
The listing feeds prefix each abstract with "arXiv:<id> Announce Type: <type> Abstract:"
and put all authors into one comma-joined dc:creator.
"""

from __future__ import annotations

import io
import re
import time
import xml.sax
from datetime import date
from typing import Any
from xml.parsers import expat

import feedparser
from feedparser.sanitizer import replace_doctype

from bot.records import Paper, ParsedPage
from bot.sources.errors import ParseError
from bot.sources.text import (
    ABSTRACT_LIMIT,
    TITLE_LIMIT,
    arxiv_id,
    check_paper_count,
    links_in,
    names,
    plain_text,
    squash,
)

NAME = "arxiv-feed"

_SNIFF_CHARS = 2000
_ROOT = re.compile(r"<(?:feed|rss|rdf:rdf)[\s/>]", re.IGNORECASE)
# Matched against the squashed summary, so the newline before "Abstract:" is a space.
_ANNOUNCE = re.compile(r"^arXiv:\S+ Announce Type: \S+ Abstract: ?")
# The start tag of an entry or item, with any namespace prefix.
_ENTRY_TAG = re.compile(r"<(?:[\w.-]+:)?(?:entry|item)[\s/>]")
_MARKUP = ("text/html", "application/xhtml+xml")
# The API answers a bad query with HTTP 200 and a single entry describing the error.
_API_ERROR = "arxiv.org/api/errors"


def sniff(text: str) -> bool:
    head = text.lstrip()[:_SNIFF_CHARS]
    return head.startswith("<") and _ROOT.search(head) is not None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _text(entry: dict[str, Any], key: str) -> str:
    """A title or summary as plain text: feedparser hands HTML content over as it came
    (its sanitizer is off, see _entries), so markup is taken out here."""
    detail = entry.get(f"{key}_detail")
    kind = detail.get("type") if isinstance(detail, dict) else None
    value = _str(entry.get(key))
    return plain_text(value) if kind in _MARKUP else value


# feedparser does work quadratic in an element's number of attributes, and in the length
# of a run of e-mail characters in author fields (its e-mail search starts at every letter
# of the run): a 0.1 MB author took 36 s. Real feeds stay far below these bounds.
MAX_ATTRIBUTES = 100  # on one element
_AUTHOR_ELEMENTS = frozenset(
    {"author", "creator", "contributor", "publisher", "managingeditor", "webmaster"}
)
_EMAIL_RUN = re.compile(r"[a-zA-Z0-9_.+\-]+")
AUTHOR_WORK = 20_000_000  # sum of squared run lengths in author fields, for the whole page


class _Guard:
    """Counts, while expat checks the page, what would make feedparser slow."""

    def __init__(self) -> None:
        self.depth = 0  # inside an author-like element
        self.work = 0

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if len(attributes) > MAX_ATTRIBUTES:
            raise ParseError(f"an element with {len(attributes):,} attributes: not a feed")
        if self.depth or _local(name) in _AUTHOR_ELEMENTS:
            self.depth += 1

    def end(self, name: str) -> None:
        if self.depth:
            self.depth -= 1

    def text(self, data: str) -> None:
        if self.depth:
            self.work += sum(len(run) ** 2 for run in _EMAIL_RUN.findall(data))
            if self.work > AUTHOR_WORK:
                raise ParseError("author fields with words too long to be names: not a feed")


def _local(name: str) -> str:
    """An element's name without its namespace (expat gives "URI name") or prefix."""
    return name.rpartition(" ")[2].rpartition(":")[2].lower()


def _well_formed(data: bytes) -> None:
    """Refuse malformed XML before feedparser reads it: after its strict parser fails it reads
    the page again with a lenient one in pure Python (seconds a megabyte), and the result
    would be refused anyway. Checked as feedparser's strict parser sees the page: with its
    DOCTYPE replaced, in UTF-8, with namespaces. The same pass refuses what feedparser
    would take quadratic time over (_Guard)."""
    _, data, _ = replace_doctype(data)
    parser = expat.ParserCreate("utf-8", " ")
    guard = _Guard()
    parser.buffer_text = True  # author text comes whole, not in many calls
    parser.StartElementHandler = guard.start
    parser.EndElementHandler = guard.end
    parser.CharacterDataHandler = guard.text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ParseError(f"malformed feed XML: {exc}") from None


def _entries(text: str) -> list[dict[str, Any]]:
    # Whitespace before the root is no XML, and feedparser's search of what comes before the
    # root for a DOCTYPE takes time quadratic in its length.
    data = text.lstrip().encode("utf-8")
    _well_formed(data)
    # Given a str, feedparser fetches URLs and opens file names; a stream keeps parsing pure.
    # The text is already decoded, so its XML declaration's encoding no longer applies.
    # Its HTML sanitizer and link resolver are off: they parse markup in time quadratic in
    # some hostile content ("<!--" repeated: 46 s a megabyte); _text reads markup instead.
    result = feedparser.parse(
        io.BytesIO(data),
        response_headers={"content-type": "application/xml; charset=utf-8"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    error = result.get("bozo_exception")
    # feedparser falls back to lenient parsing of broken XML; a truncated download would
    # then quietly lose its last entries, so malformed XML is rejected instead.
    if isinstance(error, xml.sax.SAXException):
        raise ParseError(f"malformed feed XML: {error}")
    return [entry for entry in result.get("entries", []) if isinstance(entry, dict)]


def _authors(entry: dict[str, Any]) -> tuple[str, ...]:
    authors = entry.get("authors")
    found = [
        squash(_str(author.get("name")))
        for author in (authors if isinstance(authors, list) else [])
        if isinstance(author, dict)
    ]
    # Only the listing feeds' single dc:creator joins several names; an API entry has one
    # <author> per person, whose name may hold a comma of its own ("Smith, Jr.").
    if len(found) == 1:
        found = _split_names(found[0])
    return names(found)


def _split_names(joined: str) -> list[str]:
    """Names joined by commas, an Oxford ", and", or " and " after the last comma. Split with
    str methods: a regex that looks ahead from each " and " for no further comma takes
    quadratic time (half a minute on a hostile feed). `joined` is squashed: single spaces."""
    first, *rest = (part.strip() for part in joined.split(","))
    names = [first, *(part.removeprefix("and ") for part in rest)]
    return names[:-1] + names[-1].split(" and ")


def _categories(entry: dict[str, Any]) -> tuple[str, ...]:
    primary = entry.get("arxiv_primary_category")
    tags = entry.get("tags")
    found = [primary] if isinstance(primary, dict) else []
    if isinstance(tags, list):
        found += [tag for tag in tags if isinstance(tag, dict)]
    # The primary category leads; the API repeats it among the tags.
    return names(dict.fromkeys(squash(_str(tag.get("term"))) for tag in found))


def _published(entry: dict[str, Any]) -> date | None:
    parsed = entry.get("published_parsed")
    if not isinstance(parsed, time.struct_time):
        return None
    # feedparser drops dates it cannot read but passes years 0 and 10000 (after moving
    # 9999-12-31 to UTC) on; those are unknown dates too.
    try:
        return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    except ValueError:
        return None


def _paper(index: int, entry: dict[str, Any]) -> Paper:
    title = squash(_text(entry, "title"), TITLE_LIMIT)
    # Every arXiv entry has a title; one without means this is not the feed we expect.
    if not title:
        raise ParseError(f"entry {index} has no title")
    abstract = _ANNOUNCE.sub("", squash(_text(entry, "summary"), ABSTRACT_LIMIT))
    ids = (arxiv_id(_str(entry.get(key))) for key in ("id", "link"))
    # Authors often announce code or a project page in the API's comment field.
    code_url, project_url = links_in(f"{abstract} {squash(_str(entry.get('arxiv_comment')))}")
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=next((found for found in ids if found), None),
        authors=_authors(entry),
        published=_published(entry),
        code_url=code_url,
        project_url=project_url,
        categories=_categories(entry),
    )


def parse(text: str) -> ParsedPage:
    # Counted before feedparser reads them: that takes a minute for a page of a million.
    check_paper_count(sum(1 for _ in _ENTRY_TAG.finditer(text)))
    entries = _entries(text)
    if not entries:
        raise ParseError("feed holds no entries")
    papers: list[Paper] = []
    for index, entry in enumerate(entries):
        if _API_ERROR in _str(entry.get("id")):
            reason = squash(_text(entry, "summary"), TITLE_LIMIT) or "no details given"
            raise ParseError(f"arXiv API error: {reason}")
        papers.append(_paper(index, entry))
    return ParsedPage(format=NAME, papers=tuple(papers))
