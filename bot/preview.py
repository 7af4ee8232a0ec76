"""What keywords match in the whole store, for `paperboy preview`, without holding the store
in memory.

A keyword is read as a digest reads it (bot/matching.py), against the store's vocabulary
and acronym definitions, as search reads its words (bot/search.py's StoreLexicon). The
full-text index then gives the papers it could match (those whose word families hold one
of its phrases: storage/candidates.py), and only those are read, a batch at a time, and
matched by a `Matcher`, whose verdict is the digest's. A keyword of filters alone
(`cat:cs.RO`, `author:LeCun`) has no words to look for: the whole store is read, in
batches (for a category, only the papers whose stored categories may hold it). Each batch
is matched on its own and let go: what is kept of a match is its paper's id, the order it
ranks in and why it matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from sqlalchemy.orm import Session

from bot import categories, filters
from bot.analysis import family
from bot.matching import (
    Acronym,
    AcronymTable,
    Hit,
    Matcher,
    acronym_lookups,
    parse_keyword,
    read_keyword,
)
from bot.records import Paper
from bot.search import StoreLexicon
from storage import candidates, search
from storage.candidates import Stored, Wanted

# Papers read and matched at a time.
BATCH = 2_000


class Found(NamedTuple):
    """A matched paper, as few objects as can be (a common keyword matches half a large
    library): the fields in digest order (service.ranked's: title matches first, then the
    most upvoted, then the newest), then why it matched."""

    in_abstract: bool  # no keyword matched in the title
    votes: int  # minus the upvotes
    age: float  # minus when it was first stored
    minus_id: int
    hits: tuple[Hit, ...]

    @property
    def paper_id(self) -> int:
        return -self.minus_id


class Library:
    """The stored papers, as `keywords.review` and preview match keywords against them."""

    def __init__(self, session: Session, batch: int = BATCH) -> None:
        self.session = session
        self.batch = batch
        self.lexicon = StoreLexicon(session)
        self.acronyms = AcronymTable()
        self._looked_up: set[str] = set()

    def _learn(self, keywords: Iterable[str]) -> None:
        """Add the store's definitions of the acronyms and long forms these keywords may
        stand for (all that reading them looks up) to the acronym table."""
        wanted: tuple[set[str], set[tuple[str, ...]]] = (set(), set())
        for keyword in keywords:
            text = _words_of(keyword)
            if text and text not in self._looked_up:
                self._looked_up.add(text)
                acronyms, long_forms = acronym_lookups(text, self.lexicon)
                wanted[0].update(acronyms)
                wanted[1].update(long_forms)
        found = search.acronym_definitions(
            self.session, wanted[0], {" ".join(form) for form in wanted[1]}
        )
        for acronym, long_form in found:
            self.acronyms.add(acronym, tuple(long_form.split()))

    def _patterns(self, keyword: str) -> list[list[frozenset[str]]] | None:
        """The family patterns a paper must hold one of to match the keyword; None if it has
        no words (only filters): any paper may match it."""
        text = _words_of(keyword)
        if text is None:
            return None
        patterns = []
        for pattern in read_keyword(text, self.lexicon, self.acronyms).patterns:
            if isinstance(pattern, Acronym):
                # "GAN" or "GANs" in the text: the index holds their families, lower case.
                patterns.append([frozenset({family(pattern.text), family(pattern.text + "s")})])
            else:
                patterns.append(list(pattern.keys))
        return patterns

    def _batches(self, keywords: Sequence[str], wanted: Wanted) -> Iterator[list[Stored]]:
        """The papers any of the keywords may match, a batch at a time."""
        patterns = []
        for keyword in keywords:
            found = self._patterns(keyword)
            if found is None:
                yield from candidates.every_paper(
                    self.session, self.batch, wanted, _categories(keywords)
                )
                return
            patterns += found
        ids = candidates.matching_ids(self.session, patterns)
        for start in range(0, len(ids), self.batch):
            yield candidates.papers_among(self.session, ids[start : start + self.batch], wanted)

    def matches(self, keywords: Sequence[str]) -> list[Found]:
        """The papers matching any keyword and no excluding one, in digest order: title
        matches first, then the most upvoted, then the newest."""
        self._learn(keywords)
        read = [parse_keyword(k) for k in keywords]
        including = [
            k for k, (text, excluding) in zip(keywords, read, strict=True) if text and not excluding
        ]
        # Only what the keywords look at is read: texts for words, lists for filters.
        wanted = Wanted(
            texts=any(_words_of(text) for text, _ in read),
            lists=any(filters.has_filters(text) for text, _ in read),
        )
        found = []
        # One tuple of reasons for all the papers matched for the same reasons.
        reasons: dict[tuple[Hit, ...], tuple[Hit, ...]] = {}
        for batch in self._batches(including, wanted):
            matcher = Matcher(
                [stored.paper for stored in batch],
                acronyms=self.acronyms,
                lexicon=self.lexicon,
                families=[stored.families for stored in batch],
                scan=True,
            )
            matches = matcher.match(keywords)
            in_title = matches.in_title
            for index in matches.indices:
                stored = batch[index]
                hits = matches.hits_at(index)
                found.append(
                    Found(
                        index not in in_title,
                        -(stored.paper.upvotes or 0),
                        -stored.first_seen_at.timestamp(),
                        -stored.id,
                        reasons.setdefault(hits, hits),
                    )
                )
        found.sort()
        return found

    def papers(self, ids: Sequence[int], lists: bool = False) -> dict[int, Paper]:
        """The papers with these ids (a batch's worth), with what a listing shows of them:
        the title and link, and if `lists` the authors and categories (no abstract)."""
        return candidates.listed(self.session, ids, lists)

    def size(self) -> int:
        """How many papers are stored."""
        return candidates.count(self.session)

    def hits(self, keyword: str) -> Mapping[int, Hit]:
        """The papers (by id) a keyword matches, and where: what keywords.review asks."""
        return {
            match.paper_id: match.hits[0]
            for match in self.matches([keyword])
            if match.hits  # an excluding keyword matches nothing by itself
        }


def _categories(keywords: Sequence[str]) -> set[str] | None:
    """What the categories of any paper these keywords match start with, case-folded (see
    categories.within): one of its category filters' codes each; None if one has none."""
    found = set()
    for keyword in keywords:
        codes = [
            f.value for f in filters.parse(keyword).filters if f.field == "cat" and not f.exclude
        ]
        if not codes:
            return None
        found |= categories.prefixes(codes[0])
    return found


def _words_of(keyword: str) -> str | None:
    """The words of a keyword, without its filters; None for a keyword of filters alone."""
    text, _ = parse_keyword(keyword)
    if filters.has_filters(text):
        return filters.parse(text).text or None
    return text or None
