"""Keyword matching: which papers of a batch are about a subscriber's keywords, and why.

Pure (no I/O). Words are read by bot/analysis.py, as search reads them: a keyword matches
its word's inflections, spellings and derivational family ("quantization" finds
"quantized"), never the inside of another word ("GAN" is not in "organ"). Multi-word
keywords match as phrases; hyphens and spaces are the same. A keyword word whose family
the corpus never uses, and that is no English word, is taken for a typo and also matched as
its nearest common word (a swap of two letters is one edit). Acronyms typed in capitals match
case-sensitively, and an acronym and its long form find each other through the
"long form (ACRONYM)" definitions found in the corpus.

`Matcher` indexes one batch of papers and evaluates each distinct keyword once, however
many subscribers share it. A subscriber's `Matches` are the matched papers' positions,
combined from the cached per-keyword sets; a paper's `Match` (its reasons) is built only
when asked for, since a digest shows about ten of the hundreds of papers a subscriber matches.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, overload

from rapidfuzz import process

from bot import authors, filters
from bot.analysis import (
    TYPO_SCORER,
    composed,
    compound_cuts,
    definitions,
    family,
    fold,
    is_acronym,
    is_dictionary_word,
    max_typos,
    singular_acronym,
    tokens,
    typo_distance,
    words,
)
from bot.records import Paper

# A keyword made only of filters (`author:LeCun`, `cat:cs.CL`) matches by who wrote a paper or
# where arXiv lists it; words, alone or beside filters, by the title or the abstract.
Where = Literal["title", "abstract", "author", "category"]
_WHERE_ORDER: tuple[Where, ...] = ("title", "abstract", "author", "category")

# A correction is a word of at least this many texts: not another paper's typo.
_COMMON = 2


@dataclass(frozen=True, slots=True)
class Hit:
    keyword: str
    where: Where
    # The keyword as it was read when a word of it was taken for a typo ("transformer" for
    # "trasnformer"), so that a digest can say what it matched.
    corrected: str | None = None

    @property
    def label(self) -> str:
        """The keyword as a reader should see it in "matched ..."."""
        if self.corrected:
            return f"{self.corrected} (you typed {self.keyword})"
        return self.keyword


@dataclass(frozen=True, slots=True)
class Match:
    index: int  # the paper's position in the matched batch
    paper: Paper
    hits: tuple[Hit, ...]

    @property
    def where(self) -> Where:
        """The best place any keyword matched: the title, else the abstract, else by filter."""
        found = {hit.where for hit in self.hits}
        return next(where for where in _WHERE_ORDER if where in found)


@dataclass(frozen=True, slots=True)
class Found:
    """What one keyword matches in a batch, cached and shared by its subscribers."""

    hits: dict[int, Hit]  # by paper position, in batch order
    papers: frozenset[int]
    in_title: frozenset[int]
    # The match of a paper that only this keyword of a subscriber's matched (the usual
    # case), made once and shared by all of them.
    alone: dict[int, Match]

    @classmethod
    def of(cls, hits: dict[int, Hit]) -> Found:
        title = frozenset(index for index, hit in hits.items() if hit.where == "title")
        return cls(hits, frozenset(hits), title, {})

    def match(self, index: int, papers: Sequence[Paper]) -> Match:
        shared = self.alone.get(index)
        if shared is None:
            shared = self.alone[index] = Match(index, papers[index], (self.hits[index],))
        return shared


class Matches(Sequence[Match]):
    """One subscriber's matches in a batch, in batch order: the papers' positions, combined
    from its keywords' cached sets; a paper's `Match` is built when it is looked at."""

    __slots__ = ("_included", "indices", "papers")

    def __init__(self, indices: list[int], papers: list[Paper], included: list[Found]) -> None:
        self.indices = indices  # the matched papers' positions in the batch, ascending
        self.papers = papers  # the whole batch
        self._included = included  # the including keywords' findings, in the given order

    def at(self, index: int) -> Match:
        """The match of the paper at batch position `index` (one of `indices`)."""
        having = [found for found in self._included if index in found.papers]
        if len(having) == 1:
            return having[0].match(index, self.papers)
        return Match(index, self.papers[index], tuple(found.hits[index] for found in having))

    def hits_at(self, index: int) -> tuple[Hit, ...]:
        """Why the paper at batch position `index` matched: `at(index).hits`, without the
        `Match` (preview keeps only these, for every match of a library)."""
        return tuple(found.hits[index] for found in self._included if index in found.papers)

    @property
    def in_title(self) -> set[int]:
        """The positions of the matched papers that a keyword matched in the title."""
        titles = set().union(*(found.in_title for found in self._included))
        return titles.intersection(self.indices)

    def __len__(self) -> int:
        return len(self.indices)

    @overload
    def __getitem__(self, item: int) -> Match: ...

    @overload
    def __getitem__(self, item: slice) -> list[Match]: ...

    def __getitem__(self, item: int | slice) -> Match | list[Match]:
        if isinstance(item, slice):
            return [self.at(index) for index in self.indices[item]]
        return self.at(self.indices[item])

    def __iter__(self) -> Iterator[Match]:
        return (self.at(index) for index in self.indices)


class Lexicon(Protocol):
    """What reading a keyword needs to know of a corpus: how common a word family is, the
    likely corrections of a typo, and the two words a compound may be split into. The
    in-memory `Vocabulary` answers for a batch of papers, search's for the whole store."""

    def corrections(self, word: str) -> list[str]: ...

    def splits(self, word: str) -> list[tuple[str, str]]: ...


def may_be_typo(word: str, seen: int) -> bool:
    """Only a word long enough, whose family no text uses (`seen`) and that is no English
    word can be a typo: a word the papers use is real, however rare ("lossy" is no "loss")."""
    return bool(max_typos(word)) and not seen and not is_dictionary_word(word)


def choose_corrections(word: str, seen: int, candidates: Iterable[tuple[str, int]]) -> list[str]:
    """The word a keyword word is likely a typo of, among (surface word, texts of its family):
    for a word that may be a typo, the nearest word within its typo distance (a swap of two
    letters is one edit) that at least _COMMON texts use."""
    if not may_be_typo(word, seen):
        return []
    limit = max_typos(word)
    lowered = fold(word)
    own = family(lowered)
    found = sorted(
        # Nearest first, then the most common. Slips in the first letter are rare, and
        # search looks only among words that share it ("atack" is "attack", not "stack").
        (distance, -count, surface)
        for surface, count in candidates
        if count >= _COMMON
        and surface[:1] == lowered[:1]
        and family(surface) != own
        and (distance := typo_distance(lowered, surface)) <= limit
    )
    # One reading only: the words equally near are mostly other words ("traning" is
    # "training", not "tracing" or "trading").
    return [found[0][-1]] if found else []


@dataclass(slots=True)
class Vocabulary:
    """The words a batch of papers uses, to tell a typo from a real word and to correct it."""

    texts: Counter[str] = field(default_factory=Counter)  # texts per word family
    by_surface: dict[str, str] = field(default_factory=dict)  # folded word -> its family

    @classmethod
    def of(cls, papers: Iterable[Paper]) -> Vocabulary:
        vocabulary = cls()
        for paper in papers:
            vocabulary.add(paper.title)
            vocabulary.add(paper.abstract)
        return vocabulary

    def add(self, text: str) -> None:
        keys = set()
        for word in words(text):
            key = self.by_surface.get(word)
            if key is None:
                key = self.by_surface[word] = family(word)
            keys.add(key)
        self.texts.update(keys)

    def seen(self, word: str) -> int:
        return self.texts[family(word)]

    def corrections(self, word: str) -> list[str]:
        seen = self.seen(word)
        if not may_be_typo(word, seen):
            return []
        near = process.extract(
            fold(word), self.by_surface.keys(), scorer=TYPO_SCORER,
            score_cutoff=max_typos(word), limit=None,
        )  # fmt: skip
        candidates = [(surface, self.texts[self.by_surface[surface]]) for surface, _, _ in near]
        return choose_corrections(word, seen, candidates)

    def splits(self, word: str) -> list[tuple[str, str]]:
        return [
            (head, tail)
            for head, tail in compound_cuts(fold(word))
            if head in self.by_surface and tail in self.by_surface
        ]

    def suggest(self, keyword: str) -> str | None:
        """A spelling of the keyword that the papers use, for one that matches nothing."""
        suggested = []
        for word in words(keyword):
            if self.seen(word):
                suggested.append(word)
                continue
            limit = max(2, max_typos(word))
            near = process.extractOne(
                word, self.by_surface.keys(), scorer=TYPO_SCORER, score_cutoff=limit
            )
            if near is None:
                return None
            suggested.append(near[0])
        text = " ".join(suggested)
        return text if text and text != fold(keyword).strip() else None


@dataclass(slots=True)
class AcronymTable:
    """Acronyms and their long forms as the corpus defines them."""

    long_forms: dict[str, set[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(set))
    acronyms: dict[tuple[str, ...], set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, acronym: str, long_form: tuple[str, ...]) -> None:
        self.long_forms[acronym].add(long_form)
        self.acronyms[long_form].add(acronym)

    def learn(self, text: str) -> None:
        for acronym, long_form in definitions(text):
            self.add(acronym, long_form)


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive words, each one of a set of keys."""

    keys: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class Acronym:
    """A capitalised acronym, matched case-sensitively, plural allowed.

    With a `meaning`, a paper that defines the acronym as something else does not count:
    "CL" stands for continual learning in some papers and curriculum learning in others.
    """

    text: str
    meaning: tuple[str, ...] | None = None


Pattern = Phrase | Acronym


class Document:
    """A paper tokenised for matching: its word families in order, and (read when first
    asked, since only an acronym's keyword needs them) the acronyms it uses and defines."""

    __slots__ = (
        "_abstract_words",
        "_defines",
        "_title_words",
        "abstract_keys",
        "paper",
        "title_keys",
    )

    def __init__(
        self, paper: Paper, title_keys: tuple[str, ...], abstract_keys: tuple[str, ...]
    ) -> None:
        self.paper = paper
        self.title_keys = title_keys
        self.abstract_keys = abstract_keys
        self._title_words: frozenset[str] | None = None
        self._abstract_words: frozenset[str] | None = None
        self._defines: dict[str, set[tuple[str, ...]]] | None = None

    @property
    def title_words(self) -> frozenset[str]:
        """The acronyms of the title, in the singular."""
        if self._title_words is None:
            self._title_words = _acronyms_in(self.paper.title)
        return self._title_words

    @property
    def abstract_words(self) -> frozenset[str]:
        if self._abstract_words is None:
            self._abstract_words = _acronyms_in(self.paper.abstract)
        return self._abstract_words

    @property
    def defines(self) -> dict[str, set[tuple[str, ...]]]:
        """The long forms the paper gives its acronyms."""
        if self._defines is None:
            defines: dict[str, set[tuple[str, ...]]] = defaultdict(set)
            for text in (self.paper.title, self.paper.abstract):
                for acronym, long_form in definitions(text):
                    defines[acronym].add(long_form)
            self._defines = dict(defines)
        return self._defines


def _acronyms_in(text: str) -> frozenset[str]:
    """The acronyms of a text (the words is_acronym takes), in the singular."""
    return frozenset(singular_acronym(word) for word in tokens(text) if is_acronym(word))


def prepare(paper: Paper, families: tuple[str, str] | None = None) -> Document:
    """A paper tokenised once for matching. `families`: its title's and its abstract's word
    families as the search index holds them (storage/search_index.py), which spares
    analysing every word again."""
    if families is not None:
        return Document(paper, tuple(families[0].split()), tuple(families[1].split()))
    return Document(
        paper,
        tuple(family(w) for w in tokens(paper.title)),
        tuple(family(w) for w in tokens(paper.abstract)),
    )


def _phrase_in(keys: tuple[str, ...], phrase: Phrase) -> bool:
    first, *rest = phrase.keys
    if not rest:
        return not first.isdisjoint(keys)
    span = len(phrase.keys)
    return any(
        keys[start] in first and all(keys[start + 1 + i] in alt for i, alt in enumerate(rest))
        for start in range(len(keys) - span + 1)
    )


@functools.lru_cache(maxsize=256)
def _phrase_search(pattern: Pattern) -> Callable[[str], bool] | None:
    """A test of whether a text of word families separated by whitespace (as the index
    stores them) holds the phrase, true exactly where _phrase_in finds it in the text's
    split words; None for an acronym, or a key that no split word can equal."""
    if (
        not isinstance(pattern, Phrase)
        or not pattern.keys
        or not all(
            keys and all(key and not any(c.isspace() for c in key) for key in keys)
            for keys in pattern.keys
        )
    ):
        return None
    words = (r"(?:" + "|".join(map(re.escape, sorted(keys))) + ")" for keys in pattern.keys)
    search = re.compile(r"(?<!\S)" + r"\s+".join(words) + r"(?!\S)").search
    # Many texts lack the first word anywhere: a substring test says so fastest.
    first = sorted(pattern.keys[0])
    if len(first) == 1:
        needle = first[0]
        return lambda text: needle in text and search(text) is not None
    return lambda text: any(key in text for key in first) and search(text) is not None


def _same_meaning(one: tuple[str, ...], other: tuple[str, ...]) -> bool:
    # "graph neural nets" and "graph neural networks" agree; "curriculum learning" and
    # "continual learning" do not.
    return len(one) == len(other) and one[0] == other[0]


def locate(document: Document, pattern: Pattern) -> Where | None:
    """Where a pattern occurs in a paper (the title wins), or None."""
    if isinstance(pattern, Acronym):
        # Its tokens hold it as written: most texts lack it, and a substring test says so
        # faster than reading their acronyms.
        paper = document.paper
        if pattern.text not in composed(paper.title) and pattern.text not in composed(
            paper.abstract
        ):
            return None
        meanings = document.defines.get(pattern.text)
        if (
            pattern.meaning
            and meanings
            and not any(_same_meaning(pattern.meaning, meaning) for meaning in meanings)
        ):
            return None
        if pattern.text in document.title_words:
            return "title"
        return "abstract" if pattern.text in document.abstract_words else None
    if _phrase_in(document.title_keys, pattern):
        return "title"
    return "abstract" if _phrase_in(document.abstract_keys, pattern) else None


@dataclass(frozen=True, slots=True)
class Reading:
    """What a keyword stands for: its patterns, and the keyword as corrected, if it was."""

    patterns: tuple[Pattern, ...]
    corrected: str | None = None


def _acronyms_for(parts: Sequence[str], acronyms: AcronymTable) -> set[str]:
    """The acronyms the corpus defines as these words ("GNN" for graph neural networks)."""
    related = set(acronyms.acronyms.get(tuple(family(part) for part in parts), set()))
    if len(parts) == 1 and parts[0].upper() in acronyms.long_forms:
        related.add(parts[0].upper())  # "gnn" typed in lower case
    return related


def _spelled(long_form: tuple[str, ...]) -> Phrase:
    """The phrase of an acronym's long form, as the papers define it."""
    return Phrase(tuple(frozenset({key}) for key in long_form))


def keyword_parts(keyword: str) -> list[str]:
    """A keyword's words as read_keyword reads them."""
    # A word typed in capitals that is an English word is no acronym ("PRUNING").
    return [
        part.lower() if part.isupper() and len(part) > 4 and is_dictionary_word(part) else part
        for part in tokens(keyword)
    ]


def acronym_lookups(keyword: str, lexicon: Lexicon) -> tuple[set[str], set[tuple[str, ...]]]:
    """The acronyms and long forms whose definitions read_keyword looks up for a keyword: an
    AcronymTable of the corpus's definitions of these reads it as one of all of them does."""
    parts = keyword_parts(keyword)
    if not parts:
        return set(), set()
    read = [fixes[0] if (fixes := lexicon.corrections(part)) else part for part in parts]
    acronyms = {singular_acronym(parts[0]), read[0].upper()} if len(parts) == 1 else set()
    return acronyms, {tuple(family(part) for part in read)}


def read_keyword(keyword: str, lexicon: Lexicon, acronyms: AcronymTable) -> Reading:
    """The patterns a keyword stands for: itself with its word families, hyphen and compound
    variants and typo corrections, and its acronym or long form."""
    parts = keyword_parts(keyword)
    if not parts:
        return Reading(())
    if len(parts) == 1 and is_acronym(singular_acronym(parts[0])):
        acronym = singular_acronym(parts[0])
        expansions = acronyms.long_forms.get(acronym, set())
        return Reading((Acronym(acronym), *(_spelled(form) for form in sorted(expansions))))
    corrections = [lexicon.corrections(part) for part in parts]
    phrase = Phrase(
        tuple(
            frozenset({family(part), *(family(c) for c in fixes)})
            for part, fixes in zip(parts, corrections, strict=True)
        )
    )
    # Read with its typos corrected: a corrected word's family is in the papers, a typo's not.
    read = [fixes[0] if fixes else part for part, fixes in zip(parts, corrections, strict=True)]
    # "fine-tuning" is also written "finetuning", and "hyperparameters" "hyper-parameters".
    if len(read) == 2:
        compounds = [Phrase((frozenset({family("".join(read))}),))]
    else:
        spellings = [fold(read[0])] if len(read) == 1 else []
        compounds = [
            Phrase((frozenset({family(head)}), frozenset({family(tail)})))
            for spelling in spellings
            for head, tail in lexicon.splits(spelling)
        ]
    meaning = tuple(family(part) for part in read)
    related = sorted(_acronyms_for(read, acronyms))
    # "gnn" typed in lower case stands for its long forms too, as "GNN" does.
    spelled_out = {
        form for acronym in related if len(read) == 1 for form in acronyms.long_forms[acronym]
    }
    patterns: tuple[Pattern, ...] = (
        phrase,
        *compounds,
        *(Acronym(acronym, meaning=meaning) for acronym in related),
        *(_spelled(form) for form in sorted(spelled_out)),
    )
    shown = [fold(part) for part in read]
    corrected = " ".join(shown) if shown != [fold(part) for part in parts] else None
    return Reading(patterns, corrected)


def parse_keyword(raw: str) -> tuple[str, bool]:
    """A keyword and whether it excludes ("-survey") instead of including."""
    text = " ".join(raw.split())
    if text.startswith("-") and len(text) > 1:
        return text[1:].strip(), True
    return text, False


class Matcher:
    """One batch of papers, indexed once; keywords are evaluated once each and cached."""

    def __init__(
        self,
        papers: Sequence[Paper],
        vocabulary: Vocabulary | None = None,
        acronyms: AcronymTable | None = None,
        lexicon: Lexicon | None = None,
        families: Sequence[tuple[str, str] | None] | None = None,
        *,
        scan: bool = False,
    ) -> None:
        """Keywords are read against `lexicon` if given (a larger corpus's: the whole store's,
        when the papers are one batch of it), else the papers' own vocabulary. `families`:
        each paper's word families as stored, if they are (see prepare). `scan`: every
        paper is looked over for each keyword instead of found through an index of their
        words, which costs more to build than it saves when most papers are matches (the
        papers are candidates found through the search index already). Papers are
        tokenised when a keyword of words is first matched: keywords of filters alone
        never need it."""
        self.papers = list(papers)
        self._families = families
        self._scan = scan
        self._documents: list[Document] | None = None
        self._by_key: dict[str, set[int]] = defaultdict(set)
        self._by_acronym: dict[str, set[int]] = defaultdict(set)
        self._vocabulary = vocabulary
        self._lexicon = lexicon
        self._acronyms = acronyms
        self._cache: dict[str, Found] = {}
        self._by_last_name: dict[str, set[int]] | None = None

    def _prepared(self) -> list[Document]:
        """The papers tokenised (and indexed, unless scanned), once."""
        if self._documents is not None:
            return self._documents
        known = self._families or [None] * len(self.papers)
        documents = [prepare(paper, k) for paper, k in zip(self.papers, known, strict=True)]
        if not self._scan:
            for index, document in enumerate(documents):
                for key in {*document.title_keys, *document.abstract_keys}:
                    self._by_key[key].add(index)
                for acronym in document.title_words | document.abstract_words:
                    self._by_acronym[acronym].add(index)
        self._documents = documents
        return documents

    @property
    def acronyms(self) -> AcronymTable:
        """The acronym definitions keywords are read with: as given, else the papers'."""
        if self._acronyms is None:
            self._acronyms = AcronymTable()
            for document in self._prepared():
                for acronym, long_forms in document.defines.items():
                    for long_form in long_forms:
                        self._acronyms.add(acronym, long_form)
        return self._acronyms

    @property
    def vocabulary(self) -> Vocabulary:
        """The papers' own vocabulary, made when first needed."""
        if self._vocabulary is None:
            self._vocabulary = Vocabulary.of(self.papers)
        return self._vocabulary

    def _candidates(self, pattern: Pattern) -> Iterable[int]:
        self._prepared()
        if self._scan:
            return range(len(self.papers))
        if isinstance(pattern, Acronym):
            return self._by_acronym.get(pattern.text, set())
        found: set[int] | None = None
        for alternatives in pattern.keys:
            docs = set().union(*(self._by_key.get(key, set()) for key in alternatives))
            found = docs if found is None else found & docs
            if not found:
                return set()
        return found or set()

    def hits(self, keyword: str) -> dict[int, Hit]:
        """Papers (by index) that a keyword matches, and where; cached per keyword."""
        return self._found(keyword).hits

    def _found(self, keyword: str) -> Found:
        cached = self._cache.get(keyword)
        if cached is not None:
            return cached
        if filters.has_filters(keyword):
            found = self._cache[keyword] = Found.of(self._filtered_hits(keyword))
            return found
        places: dict[int, Where] = {}
        reading = read_keyword(keyword, self._lexicon or self.vocabulary, self.acronyms)
        for pattern in reading.patterns:
            for index, where in self._located(pattern):
                if places.get(index) != "title":
                    places[index] = where
        # One Hit a place, shared by its papers and every subscriber of the keyword.
        made = {where: Hit(keyword, where, reading.corrected) for where in set(places.values())}
        hits = {index: made[where] for index, where in sorted(places.items())}
        found = self._cache[keyword] = Found.of(hits)
        return found

    def _located(self, pattern: Pattern) -> Iterator[tuple[int, Where]]:
        """The papers a pattern occurs in, and where. A phrase scanned for in papers whose
        families are given is searched for in their texts as stored, which spares splitting
        every text into its words (most of matching a batch of candidates)."""
        search = _phrase_search(pattern) if self._scan and self._families else None
        if search is None or self._families is None:
            documents = self._prepared()
            for index in self._candidates(pattern):
                if where := locate(documents[index], pattern):
                    yield index, where
            return
        for index, texts in enumerate(self._families):
            if texts is None:  # not indexed: read as the digest reads it
                if where := locate(prepare(self.papers[index]), pattern):
                    yield index, where
            elif search(texts[0]):
                yield index, "title"
            elif search(texts[1]):
                yield index, "abstract"

    def _with_author(self, name: str) -> set[int]:
        """Papers with an author of the same last name as `name`: those worth comparing."""
        if self._by_last_name is None:
            self._by_last_name = defaultdict(set)
            for index, paper in enumerate(self.papers):
                for author in paper.authors:
                    for last in authors.last_names(author):
                        self._by_last_name[last].add(index)
        found = self._by_last_name
        return set().union(*(found.get(last, set()) for last in authors.last_names(name)))

    def _filtered_hits(self, keyword: str) -> dict[int, Hit]:
        """`cat:cs.CV diffusion`: the papers "diffusion" matches that are in cs.CV."""
        parsed = filters.parse(keyword)
        wanted = [f.value for f in parsed.filters if f.field == "author" and not f.exclude]
        if parsed.text:
            words = self.hits(parsed.text)
            where = {index: hit.where for index, hit in words.items()}
            typo = next((hit.corrected for hit in words.values() if hit.corrected), None)
        else:
            indices = self._with_author(wanted[0]) if wanted else range(len(self.papers))
            by: Where = "author" if wanted else "category"
            where = dict.fromkeys(indices, by)
            typo = None
        corrected = filters.Filtered(parsed.filters, typo).written if typo else None
        return {
            index: Hit(keyword, where[index], corrected)
            for index in sorted(where)
            if parsed.admits(self.papers[index])
        }

    def suggest(self, keyword: str) -> str | None:
        """A spelling the papers use, for a keyword that matches none of them."""
        if filters.has_filters(keyword):
            return None  # a category or an author with no paper yet has no other spelling
        return self.vocabulary.suggest(keyword)

    def match(self, keywords: Iterable[str]) -> Matches:
        """The papers matching any keyword and no excluding one, in batch order."""
        included: list[Found] = []
        excluded: list[Found] = []
        for raw in keywords:
            keyword, exclude = parse_keyword(raw)
            if keyword:
                (excluded if exclude else included).append(self._found(keyword))
        # Set operations on the cached sets: no per-paper work for the hundreds of papers
        # a subscriber matches, of which a digest shows a few.
        papers = set().union(*(found.papers for found in included))
        papers.difference_update(*(found.papers for found in excluded))
        return Matches(sorted(papers), self.papers, included)


def learn(papers: Sequence[Paper]) -> tuple[Vocabulary, AcronymTable]:
    """The vocabulary and acronym definitions of a corpus."""
    acronyms = AcronymTable()
    for paper in papers:
        acronyms.learn(paper.title)
        acronyms.learn(paper.abstract)
    return Vocabulary.of(papers), acronyms
