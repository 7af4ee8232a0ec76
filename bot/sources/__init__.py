"""Source parsers: every page format converts to the same `Paper` records.

A small registry in the order formats are tried; detection looks at the content, never the
file name, so a saved page and its URL parse the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.records import ParsedPage
from bot.sources import arxiv_feed, hf_html, hf_json, hf_text
from bot.sources.errors import ParseError
from bot.sources.text import decode_text

__all__ = ["FORMATS", "ParseError", "SourceFormat", "parse_page"]


@dataclass(frozen=True, slots=True)
class SourceFormat:
    name: str
    sniff: Callable[[str], bool]
    parse: Callable[[str], ParsedPage]


FORMATS: tuple[SourceFormat, ...] = (
    SourceFormat(hf_json.NAME, hf_json.sniff, hf_json.parse),
    SourceFormat(arxiv_feed.NAME, arxiv_feed.sniff, arxiv_feed.parse),
    SourceFormat(hf_html.NAME, hf_html.sniff, hf_html.parse),
    SourceFormat(hf_text.NAME, hf_text.sniff, hf_text.parse),
)


def parse_page(data: bytes) -> ParsedPage:
    """Detect the format of one page and parse it; raises ParseError and nothing else."""
    text = decode_text(data)
    for fmt in FORMATS:
        if fmt.sniff(text):
            page = fmt.parse(text)
            if not page.papers:
                raise ParseError(f"{fmt.name} page holds no papers")
            return page
    raise ParseError("unknown format: not a digest page, Hugging Face JSON/HTML or arXiv feed")
