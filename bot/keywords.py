"""Keyword hygiene: what a typed keyword becomes before it is stored or previewed.

Pure (no I/O). /subscribe, /import and `paperboy preview` read keywords through here:

- `clean` strips what surrounds a keyword when it is copied from a sentence or quoted
  ("pruning." -> "pruning", «MoE» -> "MoE") and keeps inner hyphens and the leading "-"
  that makes it an exclusion;
- `refusal` says why a keyword would pick no papers worth having (a single letter, only
  stop words, no letters at all, a `cat:` that arXiv does not have: bot/filters.py);
- `several` says when a keyword typed without commas looks like several keywords run
  together ("GNN pruning diffusion"), judged against the stored papers: see its docstring.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bot import analysis, filters

# Quotes of every kind, stripped from both ends; a keyword quoted at both ends is a phrase
# the user insists on (`"GNN pruning"`): ASCII, curly and low-9 quotes, guillemets, and the
# corner brackets of CJK text.
QUOTES = (
    "\"'`\u201c\u201d\u201e\u201f\u2018\u2019\u201a\u201b"
    "\u00ab\u00bb\u2039\u203a\u300c\u300d\u300e\u300f"
)
# Sentence punctuation around a keyword copied from text ("pruning.", "…and MoE;").
_PUNCTUATION = ".,;:!?…·"
# Dashes that mark an exclusion at the start (phones turn "-" into an en or em dash), and
# that are stripped at the end ("pruning -"): hyphen, en dash, em dash, minus sign.
DASHES = "-\u2013\u2014\u2212"
# How many keywords a chat may have, and how long one may be.
MAX_KEYWORDS = 50
MAX_KEYWORD_LENGTH = 100
_LEADING = re.compile(f"^[\\s{re.escape(QUOTES + _PUNCTUATION)}]+")
_TRAILING = re.compile(f"[\\s{re.escape(QUOTES + _PUNCTUATION + DASHES)}]+$")
# Brackets are stripped only when they enclose the whole keyword: "(MoE)" is "MoE", but the
# ")" of "Mixture of Experts (MoE)" belongs to it.
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class Keyword:
    """A cleaned keyword: its words, whether it excludes, whether it came quoted."""

    term: str  # without the exclusion mark: "survey" for "-survey"
    exclude: bool = False
    quoted: bool = False

    @property
    def stored(self) -> str:
        """As stored and matched: "-survey" for an exclusion."""
        return f"-{self.term}" if self.exclude else self.term


def _strip(text: str) -> tuple[str, bool, bool]:
    """Text without surrounding quotes and punctuation; whether a quote opened and closed it."""
    lead = _LEADING.match(text)
    head = lead.group() if lead else ""
    text = text[len(head) :]
    trail = _TRAILING.search(text)
    tail = trail.group() if trail else ""
    text = text[: len(text) - len(tail)]
    return text, any(c in QUOTES for c in head), any(c in QUOTES for c in tail)


def clean(raw: str) -> Keyword | None:
    """The keyword a user meant, or None if nothing but punctuation was typed."""
    text = " ".join(raw.split())
    if filters.empty(text):
        # Kept as typed, for refusal() to say so: cleaning would make `author:""` "author".
        return Keyword(text)
    exclude = opened = closed = False
    while True:
        before = text
        text, quote_before, quote_after = _strip(text)
        opened, closed = opened or quote_before, closed or quote_after
        if text and text[0] in DASHES and not exclude:
            exclude = True
            text = text.lstrip(DASHES + " ")
        if len(text) >= 2 and _BRACKETS.get(text[0]) == text[-1]:
            text = text[1:-1].strip()
        if text == before:
            break
    if filters.has_filters(text):
        # Stored one way however typed: "cat:cs.cl" and "cat:cs.CL" are one keyword.
        return Keyword(filters.parse(text).written, exclude)
    return Keyword(text, exclude, opened and closed) if text else None


def refusal(keyword: Keyword) -> str | None:
    """Why a keyword would match almost every paper (or none), or None if it is fine."""
    if field := filters.empty(keyword.term):
        example = "cat:cs.LG" if field == "cat" else 'author:"Yann LeCun"'
        return f"{field}: needs a value, as in {example}"
    if filters.has_filters(keyword.term):
        parsed = filters.parse(keyword.term)
        reason = filters.refusal(parsed.filters)
        if reason is None and parsed.text:
            return refusal(Keyword(parsed.text))
        return reason
    found = analysis.tokens(keyword.term)
    if not found:
        return "it has no letters or digits"
    if all(len(token) == 1 for token in found):
        if len(found) > 1:
            return "single letters match almost every paper"
        what = "letter" if found[0].isalpha() else "character"
        return f"a single {what} matches almost every paper"
    # Acronyms are matched case-sensitively: "IT" or "US" in capitals is not "it" or "us".
    if all(
        len(token) == 1 or (analysis.is_stop_word(token) and not analysis.is_acronym(token))
        for token in found
    ):
        if len(found) > 1:
            return "too common words to pick papers"
        return "too common a word to pick papers"
    return None


class Hit(Protocol):
    @property
    def corrected(self) -> str | None:
        """The keyword as read when a word of it was taken for a typo, else None."""
        ...


class Papers(Protocol):
    """What judging a keyword needs of the stored papers: a `bot.matching.Matcher`."""

    def hits(self, keyword: str) -> Mapping[int, Hit]: ...


def _acronym(part: str) -> str | None:
    """The acronym a typed word is or starts with ("GNNs" -> "GNN", "GPT-4" -> "GPT")."""
    tokens = analysis.tokens(part)
    if not tokens:
        return None
    first = analysis.singular_acronym(tokens[0])
    return first if analysis.is_acronym(first) else None


def _spelled_out(parts: list[str]) -> bool:
    """An acronym with its long form: "GNN graph neural networks", "LoRA low-rank adaptation"."""
    acronyms = [(index, _acronym(part)) for index, part in enumerate(parts)]
    named = [(index, acronym) for index, acronym in acronyms if acronym]
    if len(named) != 1:
        return False
    index, acronym = named[0]
    rest = [token for i, part in enumerate(parts) if i != index for token in analysis.tokens(part)]
    initials = "".join(token[0] for token in rest).casefold()
    capitals = "".join(c for c in acronym if c.isupper())
    return initials in (acronym.casefold(), capitals.casefold())


def several(keyword: Keyword, papers: Papers) -> list[str] | None:
    """The keywords that `keyword` seems to run together, or None if it reads as one.

    Words typed without commas are one phrase unless all of this holds:
    1. there are two or more of them (split at spaces), and they were not quoted;
    2. none is a stop word: stop words join words into a phrase ("reinforcement learning
       from human feedback", "learning to rank");
    3. there are three or more, or one is an acronym beside words that are not its long
       form ("GNN pruning", but not "GNN graph neural networks"): two ordinary words
       ("knowledge distillation") are too often a phrase to question;
    4. the stored papers use neither the keyword nor any two neighbouring words of it as a
       phrase: a phrase that occurs is never questioned ("graph neural networks"), nor one
       built on a shorter one ("small language models" on "language models");
    5. no stored paper has all the words, even apart: words of one topic meet in papers,
       separate topics ("GNN", "pruning", "diffusion") each have papers of their own;
    6. each word finds stored papers by itself, as typed (not taken for a typo of another
       word), so the keywords suggested instead would each pick papers.
    Without evidence (an empty store, a word no paper uses) the keyword is kept as typed:
    the reply then says it matches nothing yet, which a wrongly joined phrase would show.
    """
    # Each word cleaned like a keyword of its own: "GNN; pruning" suggests "GNN", "pruning".
    cleaned = [clean(part) for part in keyword.term.split()]
    parts = [part for part in cleaned if part is not None]
    # `cat:cs.CV diffusion` says itself what it combines.
    if keyword.quoted or len(parts) < 2 or filters.has_filters(keyword.term):
        return None
    if any(analysis.is_stop_word(word) for word in analysis.tokens(keyword.term)):
        return None
    terms = [part.term for part in parts]
    if _spelled_out(terms):
        return None
    if len(terms) < 3 and not any(_acronym(term) for term in terms):
        return None
    if any(papers.hits(f"{one} {two}") for one, two in itertools.pairwise(terms)):
        return None
    found = [papers.hits(term) for term in terms]
    if not all(found) or any(hit.corrected for hits in found for hit in hits.values()):
        return None
    if set.intersection(*(set(hits) for hits in found)):
        return None
    # "GNN -survey" typed without a comma suggests "GNN, -survey".
    return [Keyword(part.term, keyword.exclude or part.exclude).stored for part in parts]


@dataclass(slots=True)
class Review:
    """Keywords sorted into those to use, those refused (with the reason) and those that
    look like several keywords (with the keywords suggested instead)."""

    accepted: list[Keyword] = field(default_factory=list)
    refused: list[tuple[Keyword, str]] = field(default_factory=list)
    questioned: list[tuple[Keyword, list[str]]] = field(default_factory=list)

    @property
    def typed(self) -> list[Keyword]:
        """Every keyword that was typed (and not just punctuation)."""
        return [*self.accepted, *(k for k, _ in self.refused), *(k for k, _ in self.questioned)]


def review(raw: Iterable[str], papers: Papers | None) -> Review:
    """Clean each keyword, then refuse or question it. With `papers` None no keyword is
    questioned: the caller already knows each is one keyword (the list of an export)."""
    result = Review()
    seen = set()
    for text in raw:
        keyword = clean(text)
        if keyword is None or keyword.stored.casefold() in seen:
            continue
        seen.add(keyword.stored.casefold())
        reason = refusal(keyword)
        parts = several(keyword, papers) if papers is not None and reason is None else None
        if reason:
            result.refused.append((keyword, reason))
        elif parts:
            result.questioned.append((keyword, parts))
        else:
            result.accepted.append(keyword)
    return result


class Suggests(Papers, Protocol):
    def suggest(self, keyword: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Count:
    """How many of the stored papers a keyword matches now (for an exclusion: leaves out),
    and for one that matches none, a spelling the papers use instead (or None)."""

    keyword: Keyword
    papers: int
    suggestion: str | None = None


def counts(added: Iterable[Keyword], papers: Suggests) -> list[Count]:
    """What each added keyword matches now, by the code the digests use."""
    found = []
    for keyword in added:
        count = len(papers.hits(keyword.term))
        found.append(Count(keyword, count, None if count else papers.suggest(keyword.term)))
    return found
