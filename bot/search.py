"""Search the paper store: one function behind `paperboy search` and the bot's /search.

The query language, deliberately small and impossible to get wrong:
  - words: a paper must contain all of them, in its title or abstract, in any form
    ("network" finds "networks"); punctuation and operators are only word separators;
  - "quoted words": must appear together in this order (an unclosed quote runs to the end;
    curly quotes work too, as phones type them);
  - the last word, unless quoted or followed by a space, also finds longer words that begin
    with it if no paper uses it as a word: "graph neural netw" finds "graph neural networks";
  - a word of 4 letters or more that no stored paper uses is corrected to the closest word
    that papers do use (1 typo for words of 4-7 letters, 2 from 8), and the result says so;
    words the papers use are never corrected, even if they are typos themselves;
  - at most MAX_WORDS words are searched; the result says when some were left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sqlalchemy.orm import Session

from storage import search as store
from storage.search import MARK_END, MARK_START, Hit, Term
from storage.words import belongs_in_vocabulary, words

DEFAULT_LIMIT = 5
MAX_LIMIT = 50
MAX_WORDS = 16
# Shorter last words match only themselves: "a" or "gr" would match half the vocabulary.
PREFIX_MIN_LENGTH = 3
EMPTY_QUERY = "Type some words to search for."

_QUOTE = re.compile('["\u201c\u201d\u201e\u00ab\u00bb]')
_ENDS_IN_WORD = re.compile(r"[^\W_]\Z")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    terms: tuple[Term, ...]
    # Words beyond MAX_WORDS, left out of the search.
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class SearchResult:
    title: str
    arxiv_id: str | None
    url: str | None
    date: date | None
    # An excerpt of the abstract; matched words sit between MARK_START and MARK_END.
    snippet: str


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    query: str
    # The query as searched after typo correction, when a word was corrected.
    corrected: str | None
    message: str | None
    results: tuple[SearchResult, ...]
    offset: int = 0
    # The matches that were ranked; `capped`: more papers may match (storage.search.HitPage).
    matches: int = 0
    capped: bool = False

    @property
    def more(self) -> bool:
        """Whether a later page has results."""
        return self.offset + len(self.results) < self.matches


def parse_query(text: str) -> ParsedQuery:
    parts = _QUOTE.split(text)
    terms: list[Term] = []
    for index, part in enumerate(parts):
        found = words(part)
        if index % 2:  # between quotes
            terms.append(Term(tuple(found)))
        else:
            terms.extend(Term((word,)) for word in found)
    # An odd number of parts: the text ends outside quotes.
    if len(parts) % 2 and _ENDS_IN_WORD.search(text) and terms:
        last = terms[-1]
        if len(last.words) == 1 and len(last.words[0]) >= PREFIX_MIN_LENGTH:
            terms[-1] = Term(last.words, prefix=True)
    return _capped([term for term in dict.fromkeys(terms) if term.words])


def _capped(terms: list[Term]) -> ParsedQuery:
    kept: list[Term] = []
    room = MAX_WORDS
    for term in terms:
        if room <= 0:
            break
        kept.append(term if len(term.words) <= room else Term(term.words[:room]))
        room -= len(kept[-1].words)
    dropped = sum(len(term.words) for term in terms) - sum(len(term.words) for term in kept)
    return ParsedQuery(tuple(kept), dropped)


def max_typos(word: str) -> int:
    """How many typos a word may be corrected for: none below 4 letters, 2 from 8."""
    if not belongs_in_vocabulary(word):
        return 0
    return 1 if len(word) <= 7 else 2


def best_correction(word: str, candidates: Sequence[tuple[str, int]]) -> str | None:
    """The closest candidate within max_typos(word); the most used one among equally close."""
    limit = max_typos(word)
    if not limit or not candidates:
        return None
    close = process.extract(
        word,
        [candidate for candidate, _ in candidates],
        scorer=Levenshtein.distance,
        score_cutoff=limit,
        limit=None,
    )
    if not close:
        return None
    _, _, index = min(close, key=lambda m: (m[1], -candidates[m[2]][1], m[0]))
    return candidates[index][0]


def _words(terms: Sequence[Term]) -> list[tuple[str, ...]]:
    return [term.words for term in terms]


def query_text(terms: Sequence[Term]) -> str:
    """Terms written back as a query: words, and "phrases" in quotes."""
    return " ".join(
        term.words[0] if len(term.words) == 1 else '"' + " ".join(term.words) + '"'
        for term in terms
    )


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


def _link(hit: Hit) -> str | None:
    if hit.arxiv_id:
        return f"https://arxiv.org/abs/{hit.arxiv_id}"
    return hit.code_url or hit.project_url


def _result(hit: Hit) -> SearchResult:
    return SearchResult(
        title=hit.title,
        arxiv_id=hit.arxiv_id,
        url=_link(hit),
        date=hit.featured_on or hit.published,
        snippet=hit.snippet,
    )


def _resolved(session: Session, terms: Sequence[Term]) -> tuple[Term, ...]:
    """Terms with typos corrected, and prefix matching kept only for unfinished words.

    A word is known when some stored paper uses it. A last word that is known is taken as
    finished (porter stemming already finds its other forms); one that only begins known
    words is completed; any other unknown word is replaced by its best correction, if any.
    """
    checked = {word for term in terms for word in term.words if max_typos(word) or term.prefix}
    known = store.known_words(session, checked)
    resolved: list[Term] = []
    for term in terms:
        if term.prefix:
            word = term.words[0]
            if word in known:
                term = Term(term.words)
            elif store.words_starting_with(session, word, 1):
                resolved.append(term)
                continue
        resolved.append(Term(tuple(_correction(session, w, known) for w in term.words)))
    return tuple(resolved)


def _correction(session: Session, word: str, known: set[str]) -> str:
    if word in known or not max_typos(word):
        return word
    candidates = store.similar_words(session, word, max_typos(word))
    return best_correction(word, candidates) or word


def search(
    session: Session, text: str, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> SearchOutcome:
    """The papers matching a query, best first; `limit` (at most MAX_LIMIT) from `offset`.

    Raises storage.search.SearchUnavailable on a database without a search backend.
    """
    query = text.strip()
    # Parsed unstripped: a space after the last word says the word is finished.
    parsed = parse_query(text)
    if not parsed.terms:
        return SearchOutcome(query, None, EMPTY_QUERY, ())
    backend = store.backend_for(session)
    terms = _resolved(session, parsed.terms)
    corrected = query_text(terms) if _words(terms) != _words(parsed.terms) else None
    notes = []
    if corrected is not None:
        notes.append(f"showing results for {corrected}")
    if parsed.dropped:
        notes.append(f"only the first {MAX_WORDS} words were searched")
    page = backend.search(
        session, terms, limit=max(1, min(limit, MAX_LIMIT)), offset=max(0, offset)
    )
    return SearchOutcome(
        query=query,
        corrected=corrected,
        message="; ".join(notes) or None,
        results=tuple(_result(hit) for hit in page.hits),
        offset=max(0, offset),
        matches=page.matches,
        capped=page.capped,
    )
