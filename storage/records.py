"""Plain records passed between layers: parsers produce them, storage consumes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


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


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """What one page yields: its papers, the format that was detected and an optional date hint."""

    format: str
    papers: tuple[Paper, ...]
    date_hint: str | None = None
