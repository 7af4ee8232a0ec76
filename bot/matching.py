"""Keyword matching: which papers of a batch are about a subscriber's keywords, and why.

Pure (no I/O). Text is split into word tokens; each token gets a *key* that folds case,
British spellings and inflections ("Networks" -> "network", "pruning"/"pruned" -> "prun"),
so a keyword matches a word's variants but never the inside of another word ("GAN" is
not in "organ"). Multi-word keywords match as phrases; hyphens and spaces are the same.
A keyword word that the corpus never uses is taken for a typo and matched against the
corpus words within a small edit distance. Acronyms typed in capitals match
case-sensitively, and an acronym and its long form find each other through the
"long form (ACRONYM)" definitions found in the corpus.

`Matcher` indexes one batch of papers and evaluates each distinct keyword once, however
many subscribers share it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from storage.records import Paper

Where = Literal["title", "abstract"]

_WORD = re.compile(r"[^\W_]+")
# Words of these lengths are left alone by the inflection rules: too short to tell apart.
_MIN_STEM = 3
# Typo tolerance by keyword-word length: distance 1 from 5 letters, 2 from 8.
_TYPO_DISTANCES = ((8, 2), (5, 1))
# A keyword word found in at most this many texts may itself be a typo the corpus shares
# ("convolutinal"); it then also matches a near word that is at least _COMMONER times as common.
_RARE = 2
_COMMONER = 10
# Compounds ("hyperparameters", "hyper-parameters") are split only into parts this long.
_MIN_PART = 4
_VOWELS = frozenset("aeiouy")
# Base forms that only look like past tenses ("embed" is not "emb" + "ed").
_NOT_PAST = frozenset({"bed", "embed", "red", "shed", "wed", "bred", "led", "sled", "hundred"})
# Nouns of their own: "embeddings" are not "embedded", an "encoding" is not "encoded".
_ING_NOUNS = frozenset({"embedding", "encoding", "setting", "meaning", "padding", "building"})
_BRITISH_ISE = re.compile(r"(?<=\w{3})is(ation|ations|e|es|ed|ing|er|ers)$")
_BRITISH_YSE = re.compile(r"(?<=\w{3})ys(e|es|ed|ing|er|ers)$")
_BRITISH_OUR = re.compile(r"(?<=\w{3})our(s|ed|ing)?$")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")
# An acronym defined in the text: "generative adversarial networks (GANs)".
_DEFINITION = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9-]{1,11})\s*\)")


def _is_acronym(word: str) -> bool:
    """GAN, GNNs, MoE, LoRA: two or more capitals and no spaces."""
    return sum(c.isupper() for c in word) >= 2 and word.isalnum()


def _singular_acronym(word: str) -> str:
    return word[:-1] if word.endswith("s") and _is_acronym(word[:-1]) else word


def _american(word: str) -> str:
    word = _BRITISH_ISE.sub(r"iz\1", word)
    word = _BRITISH_YSE.sub(r"yz\1", word)
    return _BRITISH_OUR.sub(lambda m: "or" + (m.group(1) or ""), word)


def _has_vowel(stem: str) -> bool:
    return any(c in _VOWELS for c in stem)


def _undouble(stem: str) -> str:
    if len(stem) > _MIN_STEM and stem[-1] == stem[-2] and stem[-1] not in "lsz" + "aeiou":
        return stem[:-1]
    return stem


def _uninflect(word: str) -> str:
    """Strip plural and verb endings; both sides of a comparison go through this."""
    if len(word) <= _MIN_STEM:
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses") or word.endswith(("ches", "shes", "xes", "zes", "ases")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is", "as", "ys")):
        word = word[:-1]
    if word in _ING_NOUNS:
        return word
    if word.endswith("ing") and len(word) - 3 >= _MIN_STEM and _has_vowel(word[:-3]):
        word = _undouble(word[:-3])
    elif word.endswith("ed") and word not in _NOT_PAST and not word.endswith("eed"):
        stem = word[:-2]
        if len(stem) >= _MIN_STEM and _has_vowel(stem):
            word = _undouble(stem)
    # "prune", "pruning", "pruned" all end up as "prun".
    if word.endswith("e") and not word.endswith("ee") and len(word) > _MIN_STEM:
        word = word[:-1]
    # British "modelling", "labelled", and "controlling": a doubled l after two syllables.
    if word.endswith("ll") and len(_VOWEL_GROUP.findall(word[:-2])) >= 2:
        word = word[:-1]
    return word


@lru_cache(maxsize=200_000)
def word_key(word: str) -> str:
    """The key a word is matched by: lowercase, American spelling, no inflection."""
    return _uninflect(_american(word.lower()))


def words(text: str) -> list[str]:
    """Word tokens of a text: runs of letters and digits (hyphens and spaces both split)."""
    return _WORD.findall(text)


@dataclass(frozen=True, slots=True)
class Hit:
    keyword: str
    where: Where


@dataclass(frozen=True, slots=True)
class Match:
    index: int  # the paper's position in the matched batch
    paper: Paper
    hits: tuple[Hit, ...]

    @property
    def where(self) -> Where:
        return "title" if any(hit.where == "title" for hit in self.hits) else "abstract"


@dataclass(slots=True)
class Vocabulary:
    """The words a corpus uses, to tell a typo from a real word and to correct it."""

    texts: Counter[str] = field(default_factory=Counter)
    by_surface: dict[str, str] = field(default_factory=dict)

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
            lowered = word.lower()
            key = self.by_surface.get(lowered)
            if key is None:
                key = self.by_surface[lowered] = word_key(lowered)
            keys.add(key)
        self.texts.update(keys)

    def corrections(self, word: str) -> list[str]:
        """Corpus words that a keyword word is a likely misspelling of: near in edit distance
        and far more common than the word itself. None for a word the corpus uses often."""
        limit = next((d for length, d in _TYPO_DISTANCES if len(word) >= length), 0)
        key = word_key(word)
        seen = self.texts[key]
        if not limit or seen > _RARE:
            return []
        near = process.extract(
            word.lower(), self.by_surface.keys(), scorer=Levenshtein.distance,
            score_cutoff=limit, limit=None,
        )  # fmt: skip
        found = [
            (surface, distance)
            for surface, distance, _ in near
            if self.texts[self.by_surface[surface]] >= max(1, seen * _COMMONER)
            and self.by_surface[surface] != key
        ]
        nearest = min((distance for _, distance in found), default=0)
        return [surface for surface, distance in found if distance == nearest]

    def alternatives(self, word: str) -> frozenset[str]:
        """Keys a keyword word stands for: its own and those of its likely corrections."""
        return frozenset({word_key(word), *(self.by_surface[s] for s in self.corrections(word))})

    def splits(self, word: str) -> list[tuple[str, str]]:
        """Two corpus words that a compound keyword may be written as ("hyper parameters")."""
        return [
            (word[:cut], word[cut:])
            for cut in range(_MIN_PART, len(word) - _MIN_PART + 1)
            if word[:cut] in self.by_surface and word[cut:] in self.by_surface
        ]


def _long_form(acronym: str, before: str) -> tuple[str, ...] | None:
    """The words before a parenthesised acronym that spell it (Schwartz & Hearst, 2003).

    Each letter of the acronym must appear in order, the first one at the start of a word.
    """
    letters = [c.lower() for c in acronym if c.isalnum()]
    candidates = before.split()[-min(len(letters) + 5, len(letters) * 2) :]
    text = " ".join(candidates).lower()
    position = len(text) - 1
    for index in range(len(letters) - 1, -1, -1):
        letter = letters[index]
        while position >= 0 and (
            text[position] != letter
            or (index == 0 and position > 0 and text[position - 1].isalnum())
        ):
            position -= 1
        if position < 0:
            return None
        position -= 1
    long_form = tuple(word_key(w) for w in words(text[position + 1 :]))
    # A single word ("Transformer (TF)") is a name, not an expansion.
    return long_form if len(long_form) >= 2 else None


def definitions(text: str) -> Iterable[tuple[str, tuple[str, ...]]]:
    """(acronym, long form) for every "long form (ACRONYM)" in a text."""
    for found in _DEFINITION.finditer(text):
        acronym = _singular_acronym(found.group(1))
        if _is_acronym(acronym):
            long_form = _long_form(acronym, text[: found.start()])
            if long_form:
                yield acronym, long_form


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
class _Phrase:
    """Consecutive words, each one of a set of keys."""

    keys: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class _Acronym:
    """A capitalised acronym, matched case-sensitively, plural allowed.

    With a `meaning`, a paper that defines the acronym as something else does not count:
    "CL" stands for continual learning in some papers and curriculum learning in others.
    """

    text: str
    meaning: tuple[str, ...] | None = None


Pattern = _Phrase | _Acronym


@dataclass(frozen=True, slots=True)
class Document:
    title_keys: tuple[str, ...]
    abstract_keys: tuple[str, ...]
    title_words: frozenset[str]
    abstract_words: frozenset[str]
    defines: dict[str, set[tuple[str, ...]]]


def prepare(paper: Paper) -> Document:
    """A paper tokenised once for matching."""
    title = words(paper.title)
    abstract = words(paper.abstract)
    defines: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for text in (paper.title, paper.abstract):
        for acronym, long_form in definitions(text):
            defines[acronym].add(long_form)
    return Document(
        title_keys=tuple(word_key(w) for w in title),
        abstract_keys=tuple(word_key(w) for w in abstract),
        title_words=frozenset(_singular_acronym(w) for w in title if _is_acronym(w)),
        abstract_words=frozenset(_singular_acronym(w) for w in abstract if _is_acronym(w)),
        defines=dict(defines),
    )


def _phrase_in(keys: tuple[str, ...], phrase: _Phrase) -> bool:
    first, *rest = phrase.keys
    span = len(phrase.keys)
    return any(
        keys[start] in first and all(keys[start + 1 + i] in alt for i, alt in enumerate(rest))
        for start in range(len(keys) - span + 1)
    )


def _same_meaning(one: tuple[str, ...], other: tuple[str, ...]) -> bool:
    # "graph neural nets" and "graph neural networks" agree; "curriculum learning" and
    # "continual learning" do not.
    return len(one) == len(other) and one[0] == other[0]


def locate(document: Document, pattern: Pattern) -> Where | None:
    """Where a pattern occurs in a paper (the title wins), or None."""
    if isinstance(pattern, _Acronym):
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


def compile_keyword(
    keyword: str, vocabulary: Vocabulary, acronyms: AcronymTable
) -> tuple[Pattern, ...]:
    """The patterns a keyword stands for: itself with its variants, and its acronym/long form."""
    parts = words(keyword)
    if not parts:
        return ()
    if len(parts) == 1 and _is_acronym(_singular_acronym(parts[0])):
        acronym = _singular_acronym(parts[0])
        expansions = acronyms.long_forms.get(acronym, set())
        return (
            _Acronym(acronym),
            *(_Phrase(tuple(frozenset({k}) for k in form)) for form in sorted(expansions)),
        )
    phrase = _Phrase(tuple(vocabulary.alternatives(part) for part in parts))
    exact = tuple(word_key(part) for part in parts)
    # "fine-tuning" is also written "finetuning", and "hyperparameters" "hyper-parameters".
    if len(parts) == 2:
        compounds = [_Phrase((frozenset({word_key("".join(parts))}),))]
    else:
        spellings = [parts[0].lower(), *vocabulary.corrections(parts[0])] if len(parts) == 1 else []
        compounds = [
            _Phrase((frozenset({word_key(head)}), frozenset({word_key(tail)})))
            for spelling in spellings
            for head, tail in vocabulary.splits(spelling)
        ]
    related = set(acronyms.acronyms.get(exact, set()))
    if len(parts) == 1 and parts[0].upper() in acronyms.long_forms:
        related.add(parts[0].upper())
    return (
        phrase,
        *compounds,
        *(_Acronym(acronym, meaning=exact) for acronym in sorted(related)),
    )


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
    ) -> None:
        self.papers = list(papers)
        self._documents = [prepare(paper) for paper in self.papers]
        self._by_key: dict[str, set[int]] = defaultdict(set)
        self._by_acronym: dict[str, set[int]] = defaultdict(set)
        for index, document in enumerate(self._documents):
            for key in (*document.title_keys, *document.abstract_keys):
                self._by_key[key].add(index)
            for acronym in document.title_words | document.abstract_words:
                self._by_acronym[acronym].add(index)
        if vocabulary is None:
            vocabulary = Vocabulary.of(self.papers)
        if acronyms is None:
            acronyms = AcronymTable()
            for document in self._documents:
                for acronym, long_forms in document.defines.items():
                    for long_form in long_forms:
                        acronyms.add(acronym, long_form)
        self.vocabulary = vocabulary
        self.acronyms = acronyms
        self._cache: dict[str, dict[int, Hit]] = {}

    def _candidates(self, pattern: Pattern) -> set[int]:
        if isinstance(pattern, _Acronym):
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
        cached = self._cache.get(keyword)
        if cached is not None:
            return cached
        found: dict[int, Where] = {}
        for pattern in compile_keyword(keyword, self.vocabulary, self.acronyms):
            for index in self._candidates(pattern):
                where = locate(self._documents[index], pattern)
                if where and found.get(index) != "title":
                    found[index] = where
        # One Hit per paper, shared by every subscriber of the keyword.
        hits = {index: Hit(keyword, where) for index, where in sorted(found.items())}
        self._cache[keyword] = hits
        return hits

    def match(self, keywords: Iterable[str]) -> list[Match]:
        """The papers matching any keyword and no excluding one, in batch order."""
        included: dict[int, list[Hit]] = {}
        excluded: set[int] = set()
        for raw in keywords:
            keyword, exclude = parse_keyword(raw)
            if not keyword:
                continue
            found = self.hits(keyword)
            if exclude:
                excluded.update(found)
                continue
            for index, hit in found.items():
                if index in included:
                    included[index].append(hit)
                else:
                    included[index] = [hit]
        papers = self.papers
        return [
            Match(index, papers[index], tuple(hits))
            for index, hits in sorted(included.items())
            if index not in excluded
        ]


def learn(papers: Sequence[Paper]) -> tuple[Vocabulary, AcronymTable]:
    """The vocabulary and acronym definitions of a corpus."""
    acronyms = AcronymTable()
    for paper in papers:
        acronyms.learn(paper.title)
        acronyms.learn(paper.abstract)
    return Vocabulary.of(papers), acronyms
