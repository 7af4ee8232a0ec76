"""Plain records passed between layers: parsers make them; matching, storage, render read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote_plus

# Longer links (a page can hold anything) are passed over rather than risk a message limit.
URL_LIMIT = 500
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
