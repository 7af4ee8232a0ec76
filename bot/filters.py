"""`cat:` and `author:` in a keyword or a search: which papers they let through.

Pure. A keyword may hold filters beside its words: `cat:cs.CL` (the paper is listed in the
category, as primary or cross-list), `author:"Yann LeCun"` or `author:LeCun` (a paper's
author is that person, bot/authors.py), and both with words: `cat:cs.CV diffusion` is a
paper in cs.CV that the keyword "diffusion" matches. In a search, `-cat:cs.RO` leaves
papers out; a subscription's `-cat:cs.RO` is an exclusion keyword like `-survey`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot import authors, categories
from bot.records import Paper

Field = Literal["cat", "author"]

# Quotes a phone or a copied text may put around an author's name.
_OPEN = '"\u201c\u201d\u201e\u00ab'
_CLOSE = '"\u201c\u201d\u00bb'
# `field:` at the start of a word, then a quoted value (an unclosed quote runs to the end)
# or a value up to the next space; "-" before it excludes.
_FILTER = re.compile(
    r"(?<!\S)(?P<minus>[-\u2013\u2014\u2212])?(?P<field>cat|author)\s*:\s*"
    rf"(?:[{_OPEN}](?P<quoted>[^{_CLOSE}]*)[{_CLOSE}]?|(?P<bare>[^\s,;{_OPEN}]+))",
    re.IGNORECASE,
)


# `cat:` or `author:` that names nothing: at the end, before a comma, or empty quotes.
_EMPTY = re.compile(
    r"(?<!\S)[-\u2013\u2014\u2212]?(?P<field>cat|author)\s*:\s*"
    rf"(?:[{_OPEN}][{_CLOSE}](?=\s|$)|(?=\s*(?:$|[,;])))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Filter:
    field: Field
    value: str
    exclude: bool = False

    @property
    def text(self) -> str:
        """As written back: `cat:cs.CL`, `author:LeCun`, `author:"Yann LeCun"`."""
        value = self.value if self.field == "cat" or " " not in self.value else f'"{self.value}"'
        return ("-" if self.exclude else "") + f"{self.field}:{value}"

    def admits(self, paper: Paper) -> bool:
        """Whether the paper has the category or the author (an exclusion: has not)."""
        if self.field == "cat":
            found = categories.within(paper.categories, self.value)
        else:
            found = any(authors.same_person(self.value, name) for name in paper.authors)
        return found != self.exclude


@dataclass(frozen=True, slots=True)
class Filtered:
    """A keyword or query read apart: its filters and the words left for text matching."""

    filters: tuple[Filter, ...]
    text: str

    @property
    def written(self) -> str:
        """As stored: filters first, a known category as arXiv writes it ("cs.cl" -> cs.CL)."""
        return " ".join([*(f.text for f in self.filters), *([self.text] if self.text else [])])

    def admits(self, paper: Paper) -> bool:
        return all(f.admits(paper) for f in self.filters)


def parse(text: str) -> Filtered:
    """The filters of a keyword or query, and its remaining words."""
    found: list[Filter] = []
    for match in _FILTER.finditer(text):
        field: Field = "cat" if match["field"].lower() == "cat" else "author"
        value = " ".join(
            (match["quoted"] if match["quoted"] is not None else match["bare"]).split()
        )
        if field == "cat":
            value = categories.canonical(value) or value
        found.append(Filter(field, value, bool(match["minus"])))
    rest = " ".join(_FILTER.sub(" ", text).split())
    return Filtered(tuple(dict.fromkeys(found)), rest)


def without(text: str) -> str:
    """The text with its filters blanked out, the rest as typed (spaces included)."""
    return _FILTER.sub(" ", text)


def empty(text: str) -> str | None:
    """The field of a filter in the text that names nothing (`cat:`, `author:""`)."""
    found = _EMPTY.search(text)
    return found["field"].lower() if found else None


def has_filters(text: str) -> bool:
    return _FILTER.search(text) is not None


def spans(text: str) -> list[tuple[int, int]]:
    """Where filters stand in a text: a comma inside `author:"LeCun, Yann"` separates nothing."""
    return [match.span() for match in _FILTER.finditer(text)]


def refusal(filters: Sequence[Filter]) -> str | None:
    """Why these filters would pick no paper (an unknown category, a name without letters),
    or None if they are fine."""
    for found in filters:
        if found.field == "cat" and categories.canonical(found.value) is None:
            near = categories.suggest(found.value)
            said = f"cat:{found.value} is not an arXiv category"
            if near:
                return f"{said}; did you mean cat:{near} ({categories.name(near)})?"
            return f"{said} (arxiv.org/category_taxonomy lists them)"
        if found.field == "author" and not authors.readings(found.value):
            return f"author:{found.value or '…'} needs a name"
    return None
