"""Search the paper store: one function behind `paperboy search` and the bot's /search.

The query language, deliberately small and impossible to get wrong:
  - words: a paper must contain all of them, in its title or abstract, in any form and
    word family ("network" finds "networks", "quantized" finds "quantization"), and an
    acronym finds its long form as the papers define it; punctuation only separates words;
  - "quoted words": must appear together in this order (an unclosed quote runs to the end;
    curly quotes work too, as phones type them);
  - -word or -"a phrase": papers with it are left out, as with a digest's -keyword;
  - word*: also finds longer words that begin with it; the last word, unless quoted or
    followed by a space, does so too if no paper uses it as a word;
  - a word of 5 letters or more whose family no stored paper uses, and that is no English
    word, is read as the closest word that papers use (a swap of two letters is one typo;
    1 typo up to 7 letters, 2 from 8), and the result says so;
  - at most MAX_WORDS words are searched; the result says when some were left out;
  - cat:cs.LG, author:Hinton, author:"Geoffrey Hinton" (and -cat:cs.RO to leave out) keep
    the papers listed in that arXiv category or written by that person, as the same
    keyword does in a digest (bot/filters.py). The search index knows only titles and
    abstracts, so the filters are applied in Python to the best FILTER_POOL matches of the
    words (or, with no words, to the FILTER_SCAN newest papers): a match past those is not
    found, and the result then says so.

Each word is read by bot/matching.read_keyword, as a digest reads a keyword, so a search
finds every paper a digest of the same words would carry. Results come in tiers: the exact
phrase in the title, all words exactly in the title, the exact phrase in the abstract, all
words exactly, then word-family matches, then typo corrections; bm25 within a tier.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import filters
from bot.analysis import (
    composed,
    compound_cuts,
    family,
    fold,
    is_acronym,
    max_typos,
    singular_acronym,
    spans,
    tokens,
    word_key,
)
from bot.matching import (
    Acronym,
    AcronymTable,
    Phrase,
    Reading,
    choose_corrections,
    may_be_typo,
    read_keyword,
)
from bot.records import (
    MARK_END,
    MARK_START,
    SEARCH_LIMIT,
    SEARCH_MAX_LIMIT,
    Paper,
    SearchOutcome,
    SearchResult,
)
from storage import feedback, subscriptions
from storage import search as store
from storage.search import Clause, Hit, Plan, Tier
from storage.search_index import belongs_in_vocabulary

DEFAULT_LIMIT = SEARCH_LIMIT
MAX_LIMIT = SEARCH_MAX_LIMIT
MAX_WORDS = 16
# Shorter last words match only themselves: "a" or "gr" would match half the vocabulary.
PREFIX_MIN_LENGTH = 3
EMPTY_QUERY = "Type some words to search for."
SNIPPET_TOKENS = 24
# A phrase whose words have several forms is searched as at most this many phrases.
MAX_VARIANTS = 32
# cat: and author: filter this many of the best matches (or newest papers) in Python.
FILTER_POOL = 500
# A query of filters alone reads this many of the newest papers, this many at a time.
FILTER_SCAN = 100_000
SCAN_BATCH = 2_000

# A term: optional "-", then a quoted phrase or a word, optionally followed by "*".
_TERM = re.compile(
    r"(?P<minus>(?<![^\W_])[-\u2013\u2014\u2212])?"
    r'(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\W_]+)(?P<star>\*)?)'
)
# Longer "words" are no words (nor can PostgreSQL search for them): left out of a query.
MAX_WORD_LENGTH = 100
_QUOTES = str.maketrans(dict.fromkeys("“”„«»", '"'))
_ENDS_IN_WORD = re.compile(r"[^\W_]\Z")


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must all appear, next to each other and in this order (or a single word)."""

    words: tuple[str, ...]
    # The (single) word may also be the beginning of a longer word: "transf" -> transformer.
    prefix: bool = False
    exclude: bool = False
    # Written with "*": completed even if it is a word of its own.
    explicit: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    terms: tuple[Term, ...]
    # Words beyond MAX_WORDS, left out of the search.
    dropped: int = 0


def parse_query(text: str) -> ParsedQuery:
    text = text.translate(_QUOTES)
    terms: list[Term] = []
    for found in _TERM.finditer(text):
        exclude = bool(found["minus"])
        if found["phrase"] is not None:
            words = tuple(w for w in tokens(found["phrase"]) if len(w) <= MAX_WORD_LENGTH)
            if words:
                terms.append(Term(words, exclude=exclude))
        elif len(found["word"]) <= MAX_WORD_LENGTH:
            star = bool(found["star"])
            terms.append(Term((found["word"],), prefix=star, exclude=exclude, explicit=star))
    # The last word, unquoted and not followed by a space, may be unfinished.
    last = terms[-1] if terms else None
    if (
        last is not None
        and not last.prefix
        and not last.exclude
        and len(last.words) == 1
        and _ENDS_IN_WORD.search(text)
        and len(last.words[0]) >= PREFIX_MIN_LENGTH
    ):
        terms[-1] = Term(last.words, prefix=True)
    return _capped(list(dict.fromkeys(terms)))


def _capped(terms: list[Term]) -> ParsedQuery:
    kept: list[Term] = []
    room = MAX_WORDS
    for term in terms:
        if room <= 0:
            break
        if len(term.words) > room:
            term = Term(term.words[:room], exclude=term.exclude)
        kept.append(term)
        room -= len(term.words)
    dropped = sum(len(term.words) for term in terms) - sum(len(term.words) for term in kept)
    return ParsedQuery(tuple(kept), dropped)


def query_text(terms: Sequence[Term], words: Sequence[Sequence[str]] | None = None) -> str:
    """Terms written back as a query: words, "phrases" in quotes, -exclusions."""
    out = []
    for index, term in enumerate(terms):
        shown = words[index] if words is not None else term.words
        text = shown[0] if len(shown) == 1 else '"' + " ".join(shown) + '"'
        out.append(("-" if term.exclude else "") + text + ("*" if term.explicit else ""))
    return " ".join(out)


class StoreLexicon:
    """What read_keyword needs to know, asked of the whole store's vocabulary. One serves a
    whole search: what it looked up once it does not ask again."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._seen: dict[str, int] = {}
        self._corrections: dict[str, list[str]] = {}
        self._splits: dict[str, list[tuple[str, str]]] = {}

    def seen(self, word: str) -> int:
        key = family(fold(word))
        if key not in self._seen:
            self._seen[key] = store.family_counts(self.session, [key]).get(key, 0)
        return self._seen[key]

    def corrections(self, word: str) -> list[str]:
        word = fold(word)
        if word not in self._corrections:
            self._corrections[word] = self._look_up_corrections(word)
        return self._corrections[word]

    def _look_up_corrections(self, word: str) -> list[str]:
        if not belongs_in_vocabulary(word) or not may_be_typo(word, self.seen(word)):
            return []
        near = store.similar_words(self.session, word, max_typos(word))
        counts = store.family_counts(self.session, {family(surface) for surface, _ in near})
        return choose_corrections(
            word, 0, [(surface, counts.get(family(surface), 0)) for surface, _ in near]
        )

    def splits(self, word: str) -> list[tuple[str, str]]:
        word = fold(word)
        if word not in self._splits:
            cuts = compound_cuts(word)
            known = store.known_words(self.session, {part for pair in cuts for part in pair})
            self._splits[word] = [(h, t) for h, t in cuts if h in known and t in known]
        return self._splits[word]


class _Uncorrected:
    """A lexicon that takes no word for a typo: a term read as it was typed."""

    def __init__(self, lexicon: StoreLexicon) -> None:
        self.splits = lexicon.splits

    def corrections(self, word: str) -> list[str]:
        return []


def _acronyms(session: Session, terms: Sequence[Term]) -> AcronymTable:
    """The definitions the stored papers give of the terms as acronyms, or of the terms as
    long forms: what a digest's matcher learns of its papers, learnt of the whole store."""
    acronyms = {
        spelling
        for term in terms
        if len(term.words) == 1 and not term.prefix
        for spelling in (singular_acronym(term.words[0]), term.words[0].upper())
    }
    long_forms = {
        " ".join(family(word) for word in term.words) for term in terms if len(term.words) > 1
    }
    table = AcronymTable()
    for acronym, long_form in store.acronym_definitions(session, acronyms, long_forms):
        table.add(acronym, tuple(long_form.split()))
    return table


def _variants(keys: Sequence[frozenset[str]]) -> tuple[tuple[str, ...], ...]:
    """The phrases of a pattern whose words may each have several keys (a few at most)."""
    return tuple(itertools.islice(itertools.product(*map(sorted, keys)), MAX_VARIANTS))


def _family_phrases(reading: Reading) -> tuple[tuple[str, ...], ...]:
    phrases: list[tuple[str, ...]] = []
    for pattern in reading.patterns:
        if isinstance(pattern, Acronym):
            phrases.append((family(pattern.text.lower()),))
        elif isinstance(pattern, Phrase):
            phrases.extend(_variants(pattern.keys))
    return tuple(dict.fromkeys(phrases))


@dataclass(frozen=True, slots=True)
class _Read:
    """A term as searched: its exact phrases, and its readings without and with typos."""

    exact: tuple[tuple[str, ...], ...]
    families: tuple[tuple[str, ...], ...]
    with_typos: tuple[tuple[str, ...], ...]
    corrected: tuple[str, ...] | None


def _read(session: Session, lexicon: StoreLexicon, term: Term, acronyms: AcronymTable) -> _Read:
    if term.prefix:
        prefix = fold(term.words[0])
        completions = store.words_starting_with(session, prefix, store.PREFIX_COMPLETIONS)
        surfaces = list(dict.fromkeys([prefix, *completions]))
        exact: tuple[tuple[str, ...], ...] = tuple(dict.fromkeys((word_key(s),) for s in surfaces))
        families: tuple[tuple[str, ...], ...] = tuple(dict.fromkeys((family(s),) for s in surfaces))
        return _Read(exact, families, families, None)
    typos = read_keyword(" ".join(term.words), lexicon, acronyms)
    corrected = tuple(typos.corrected.split()) if typos.corrected else None
    shown = term.words
    if corrected:
        # A word is corrected only where no paper uses its family: every tier then searches
        # the words the result says it shows, as a search for them does.
        shown = corrected
        acronyms = _acronyms(session, [Term(corrected)])
    exact = (tuple(word_key(word) for word in shown),)
    plain = read_keyword(" ".join(shown), _Uncorrected(lexicon), acronyms)
    families = _family_phrases(plain)
    with_typos = tuple(dict.fromkeys(families + _family_phrases(typos)))
    return _Read(exact, families, with_typos, corrected)


def plan(reads: Sequence[_Read], excluded: Sequence[_Read], whole: _Read | None = None) -> Plan:
    """The tiers of a search, best first; each tier's matches include the last's.

    `whole` is the query read as one keyword, as a digest would read it: in the family
    tiers its own forms (a compound, an acronym the papers define) also count.
    """
    tiers: list[Tier] = []
    if all(len(read.exact) == 1 for read in reads):
        phrase = tuple(key for read in reads for key in read.exact[0])
        tiers.append(Tier((Clause("title_exact", (phrase,)),)))
        tiers.append(Tier(tuple(Clause("title_exact", read.exact) for read in reads)))
        tiers.append(Tier((Clause("abstract_exact", (phrase,)),)))
    else:
        tiers.append(Tier(tuple(Clause("title_exact", read.exact) for read in reads)))
    tiers.append(Tier(tuple(Clause("exact", read.exact) for read in reads)))
    as_one = ((Clause("family", whole.families),),) if whole else ()
    tiers.append(Tier(tuple(Clause("family", read.families) for read in reads), as_one))
    as_one = ((Clause("family", whole.with_typos),),) if whole else ()
    tiers.append(Tier(tuple(Clause("family", read.with_typos) for read in reads), as_one))
    exclude = tuple(Clause("family", read.families) for read in excluded)
    return Plan(tuple(dict.fromkeys(tiers)), exclude)


def _link(hit: Hit) -> str:
    """The hit's link, chosen as for every paper (Paper.link)."""
    return Paper(
        hit.title, arxiv_id=hit.arxiv_id, code_url=hit.code_url, project_url=hit.project_url
    ).link


def snippet(text: str, exact: set[str], families: set[str]) -> str:
    """About SNIPPET_TOKENS words of a text around the most matched words, marked."""
    text = composed(text)
    found = spans(text)
    if not found:
        return ""
    marked = [word_key(text[a:b]) in exact or family(text[a:b]) in families for a, b in found]
    best = max(
        range(max(1, len(found) - SNIPPET_TOKENS + 1)),
        key=lambda start: (sum(marked[start : start + SNIPPET_TOKENS]), -start),
    )
    window = range(best, min(len(found), best + SNIPPET_TOKENS))
    # An ellipsis where words are left out; the text's own punctuation where none are.
    out = ["…" if best > 0 else text[: found[0][0]].lstrip()]
    position = found[window[0]][0]
    for index in window:
        a, b = found[index]
        out.append(text[position:a])
        out.append(MARK_START + text[a:b] + MARK_END if marked[index] else text[a:b])
        position = b
    end = found[window[-1]][1]
    out.append("…" if window[-1] < len(found) - 1 else text[end:].rstrip())
    return "".join(out)


def _keys_of(reads: Iterable[_Read]) -> tuple[set[str], set[str]]:
    exact = {key for read in reads for phrase in read.exact for key in phrase}
    families = {key for read in reads for phrase in read.with_typos for key in phrase}
    return exact, families


def search(
    session: Session, text: str, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> SearchOutcome:
    """The papers matching a query, best first; `limit` (at most MAX_LIMIT) from `offset`.

    Raises storage.search.SearchUnavailable on a database without a search backend.
    """
    limit, offset = max(1, min(limit, MAX_LIMIT)), max(0, offset)
    wanted = filters.parse(text)
    if not wanted.filters:
        return _search(session, text, limit=limit, offset=offset)
    store.backend_for(session)  # SearchUnavailable, as without filters
    refused = filters.refusal(wanted.filters)
    if refused:  # an unknown category: say so rather than find nothing
        return SearchOutcome(text.strip(), None, refused, ())
    rest = filters.without(text)
    if not any(not term.exclude for term in parse_query(rest).terms):
        return _newest_filtered(session, text, wanted, limit, offset)
    pool = _search(session, rest, limit=FILTER_POOL, offset=0)
    papers = feedback.papers(session, [r.paper_id for r in pool.results if r.paper_id])
    kept = [
        result
        for result in pool.results
        if result.paper_id in papers and wanted.admits(papers[result.paper_id])
    ]
    capped = pool.capped or pool.matches > len(pool.results)
    notes = [pool.message] if pool.message else []
    if capped:
        notes.append(f"filtered among the best {len(pool.results)} matches of the words")
    return SearchOutcome(
        query=text.strip(),
        corrected=pool.corrected and " ".join([*(f.text for f in wanted.filters), pool.corrected]),
        message="; ".join(notes) or None,
        results=tuple(kept[offset : offset + limit]),
        offset=offset,
        matches=len(kept),
        capped=capped,
    )


def _newest_filtered(
    session: Session, text: str, wanted: filters.Filtered, limit: int, offset: int
) -> SearchOutcome:
    """A query of filters alone (`author:Hinton`): the papers that pass, newest first, from
    the FILTER_SCAN newest (read in batches, so memory stays flat)."""
    kept: list[tuple[int, Paper]] = []
    scanned = 0
    while scanned < FILTER_SCAN:
        batch = subscriptions.newest_papers(session, SCAN_BATCH, scanned)
        scanned += len(batch)
        kept += [(paper_id, paper) for paper_id, paper in batch if wanted.admits(paper)]
        if len(batch) < SCAN_BATCH:
            break
    results = tuple(
        SearchResult(
            title=paper.title,
            arxiv_id=paper.arxiv_id,
            url=paper.link,
            date=paper.featured_on or paper.published,
            snippet=snippet(paper.abstract, set(), set()),
            paper_id=paper_id,
        )
        for paper_id, paper in kept[offset : offset + limit]
    )
    capped = scanned >= FILTER_SCAN
    return SearchOutcome(
        query=text.strip(),
        corrected=None,
        message=f"among the {FILTER_SCAN:,} newest papers" if capped else None,
        results=results,
        offset=offset,
        matches=len(kept),
        capped=capped,
    )


def _search(session: Session, text: str, *, limit: int, offset: int) -> SearchOutcome:
    """A query of words: the search index ranks its matches."""
    query = text.strip()
    # Parsed unstripped: a space after the last word says the word is finished.
    parsed = parse_query(text)
    wanted = [term for term in parsed.terms if not term.exclude]
    if not wanted:
        return SearchOutcome(query, None, EMPTY_QUERY, ())
    store.backend_for(session)  # SearchUnavailable before any work
    terms = [_finished(session, term) for term in parsed.terms]
    wanted = [term for term in terms if not term.exclude]
    unwanted = [term for term in terms if term.exclude]
    lexicon = StoreLexicon(session)
    acronyms = _acronyms(session, wanted)
    reads = [_read(session, lexicon, term, acronyms) for term in wanted]
    whole = None
    if len(wanted) > 1 and not any(term.prefix for term in wanted):
        one = Term(tuple(word for term in wanted for word in term.words))
        whole = _read(session, lexicon, one, _acronyms(session, [one]))
    excluded = [_read(session, lexicon, term, AcronymTable()) for term in unwanted]
    corrected = None
    if any(read.corrected for read in reads):
        shown = [read.corrected or term.words for term, read in zip(wanted, reads, strict=True)]
        corrected = query_text(wanted, shown)
    notes = []
    if corrected is not None:
        notes.append(f"showing results for {corrected}")
    if parsed.dropped:
        notes.append(f"only the first {MAX_WORDS} words were searched")
    page = store.search(session, plan(reads, excluded, whole), limit=limit, offset=offset)
    exact, families = _keys_of(reads)
    results = tuple(
        SearchResult(
            title=hit.title,
            arxiv_id=hit.arxiv_id,
            url=_link(hit),
            date=hit.featured_on or hit.published,
            snippet=snippet(hit.abstract, exact, families),
            paper_id=hit.id,
        )
        for hit in page.hits
    )
    return SearchOutcome(
        query=query,
        corrected=corrected,
        message="; ".join(notes) or None,
        results=results,
        offset=offset,
        matches=page.matches,
        capped=page.capped,
    )


def _finished(session: Session, term: Term) -> Term:
    """An implicit prefix (the last word typed) is a whole word if some paper uses it, and
    a prefix only if some longer word begins with it."""
    if not term.prefix or term.explicit:
        return term
    word = fold(term.words[0])
    if is_acronym(term.words[0]) or store.known_words(session, {word}):
        return Term(term.words)
    if store.words_starting_with(session, word, 1):
        return term
    return Term(term.words)
