"""Plain records passed between layers: parsers make them; matching, storage, search and
render read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote_plus

# Matched words in a snippet sit between these two characters, which never occur in text a
# person typed, so a presenter can escape the text first and then turn them into markup.
MARK_START = "\x02"
MARK_END = "\x03"
# Longer links (a page can hold anything) are passed over rather than risk a message limit.
URL_LIMIT = 500
# Results on a page of search, by default and at most.
SEARCH_LIMIT = 5
SEARCH_MAX_LIMIT = 50
# Where a paper with no arXiv id and no page of its own is found: arXiv's title search.
_TITLE_SEARCH = "https://arxiv.org/search/?query={}&searchtype=title"
_TITLE_SEARCHED = 200  # characters of the title searched: enough to find it, never too long


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as a source describes it; every field but the title may be unknown."""

    title: str
    abstract: str = ""
    arxiv_id: str | None = None
    authors: tuple[str, ...] = ()
    published: date | None = None
    featured_on: date | None = None
    upvotes: int | None = None
    code_url: str | None = None
    project_url: str | None = None
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def abs_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def pdf_url(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def link(self) -> str:
        """The one link for a paper, wherever it is shown or exported: its arXiv page; else
        its project page, else its code page; else an arXiv title search, so that every
        paper has one.

        Hugging Face keys its paper pages by arXiv id (huggingface.co/papers/<id>), and no
        source gives a page for a paper without one: the arXiv page covers every paper a
        Hugging Face page would.
        """
        if self.abs_url:
            return self.abs_url
        own = next(filter(None, map(usable_url, (self.project_url, self.code_url))), None)
        if own:
            return own
        title = " ".join(self.title.split())[:_TITLE_SEARCHED]
        return _TITLE_SEARCH.format(quote_plus(title))


def usable_url(url: str | None) -> str | None:
    """A web link fit to show: http(s) (never javascript: or tg://), of printable characters
    only (no whitespace, controls, bidi overrides or lone surrogates), and not longer than
    URL_LIMIT; None otherwise."""
    if not url or len(url) > URL_LIMIT or not url.startswith(("https://", "http://")):
        return None
    return url if url.isprintable() and " " not in url else None


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """What one page yields: its papers, the format that was detected and an optional date hint."""

    format: str
    papers: tuple[Paper, ...]
    date_hint: str | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    title: str
    arxiv_id: str | None
    url: str
    date: date | None
    # An excerpt of the abstract; matched words sit between MARK_START and MARK_END.
    snippet: str
    # The stored paper's row id: what the chat's feedback buttons name.
    paper_id: int | None = None


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    query: str
    # The query as searched after typo correction, when a word was corrected.
    corrected: str | None
    message: str | None
    results: tuple[SearchResult, ...]
    offset: int = 0
    # The matches that were counted; `capped`: more papers may match (storage.search.HitPage).
    matches: int = 0
    capped: bool = False

    @property
    def more(self) -> bool:
        """Whether a later page has results."""
        return self.offset + len(self.results) < self.matches


def render_marks(snippet: str, start: str, end: str) -> str:
    """The snippet with its match markers replaced, always balanced (every start is ended)."""
    out: list[str] = []
    inside = False
    for char in snippet:
        if char == MARK_START and not inside:
            out.append(start)
            inside = True
        elif char == MARK_END and inside:
            out.append(end)
            inside = False
        elif char not in (MARK_START, MARK_END):
            out.append(char)
    if inside:
        out.append(end)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Mark:
    """A chat's feedback on one paper: +1, -1 or 0 (none), and whether it is saved."""

    rating: int = 0
    saved: bool = False


class SearchUnavailable(Exception):
    """This database has no search backend."""
