"""Hugging Face paper pages as HTML (`/papers`, `/papers/date/...`, `/papers/<id>`).

The pages are rendered client-side from JSON kept in the `data-props` attribute of a
hydration div: `DailyPapers` holds the listing's items, `PaperContent` one paper. Reading
that JSON, rather than the rendered cards, gives the same records as the JSON API.
"""

from __future__ import annotations

import html
import re

from bot.records import ParsedPage
from bot.sources.arxiv_feed import sniff as is_feed
from bot.sources.errors import ParseError
from bot.sources.hf_json import load_json, paper_from_item, papers_from_items
from bot.sources.text import squash

NAME = "hf-html"
DATE_HINT_LIMIT = 32

_HTML_MARKERS = ("<html", "<!doctype html", "<div")
# Tried in this order, so a page that somehow holds both reads as the listing.
_TARGETS = ("DailyPapers", "PaperContent")
# One whole <div ...> start tag. Possessive quantifiers: a tag that never ends is scanned once.
_DIV_TAG = re.compile(
    r"""<div(?:\s++[^\s"'>/=]++(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s"'>]++))?+)*+\s*+/?>""",
    re.IGNORECASE,
)
# One attribute of such a tag. Only at the start of a run of whitespace: an attempt that
# fails there is not retried from each space of the run.
_ATTRIBUTE = re.compile(
    r"""(?<!\s)\s++([^\s"'>/=]++)(?:\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s"'>]++)))?+"""
)


def sniff(text: str) -> bool:
    if not text.lstrip().startswith("<") or is_feed(text):
        return False
    lowered = text.lower()
    return any(marker in lowered for marker in _HTML_MARKERS)


def _props(attributes: dict[str, str]) -> object:
    raw = attributes.get("data-props")
    if not raw:
        raise ParseError("attribute missing or empty")
    return load_json(raw)


def _page(target: str, props: object) -> ParsedPage:
    if target == "PaperContent":
        # The props are shaped like a listing item: {"paper": {...}, ...}.
        return ParsedPage(format=NAME, papers=(paper_from_item(props),))
    # Either the item list itself or, as on the live site, an object holding it under
    # dailyPapers next to the listing's date.
    if not isinstance(props, dict):
        return ParsedPage(format=NAME, papers=papers_from_items(props))
    if "dailyPapers" not in props:
        raise ParseError("object without a dailyPapers list")
    day = squash(props["date"]) if isinstance(props.get("date"), str) else ""
    return ParsedPage(
        format=NAME,
        papers=papers_from_items(props["dailyPapers"]),
        # A hint is a date ("2025-02-21"); anything longer is no hint (nor fits its column).
        date_hint=day if 0 < len(day) <= DATE_HINT_LIMIT else None,
    )


def _hydration_props(text: str, target: str) -> dict[str, str] | None:
    """The attributes of the first div with this data-target, found without an HTML parser:
    building a page's tree takes time quadratic in how deeply its <div>s nest, and lexbor's
    attribute handling in how many a tag has (minutes for a hostile page of a megabyte)."""
    marker = re.search(rf"""(?i:data-target)\s*+=\s*+(["']?){target}\1[\s/>]""", text)
    if marker is None:
        return None
    start = text.rfind("<", 0, marker.start())
    tag = _DIV_TAG.match(text, start) if start >= 0 else None
    if tag is None:
        return None
    attributes: dict[str, str] = {}
    for found in _ATTRIBUTE.finditer(tag.group()):
        name, *values = found.groups()
        # As in HTML: names are case-insensitive, and the first of two the same counts.
        attributes.setdefault(name.lower(), html.unescape(next(filter(None, values), "")))
    return attributes if attributes.get("data-target") == target else None


def parse(text: str) -> ParsedPage:
    for target in _TARGETS:
        attributes = _hydration_props(text, target)
        if attributes is None:
            continue
        try:
            return _page(target, _props(attributes))
        except ParseError as exc:
            raise ParseError(f"{target} data-props: {exc}") from None
    raise ParseError(
        "HTML page without Hugging Face paper data (no data-target=DailyPapers/PaperContent)"
    )
