"""Text analysis: the one place that decides what a word is, for matching and for search.

Digests (bot/matching.py), the search index (storage/search_index.py), search queries
(bot/search.py) and the vocabulary all read text through these functions, so a keyword and
a search for the same words see the same papers.

Every word has two keys:
- `word_key`, its *exact* form: lowercase, accents removed, American spelling, inflections
  stripped ("Networks" -> "network", "pruned"/"pruning" -> "prun", "modelling" -> "model");
- `family`, its *word family*: derivations of one verb share it ("quantization",
  "quantized", "quantizer" -> "quantiz"; "classifier"/"classification" -> "classify";
  "detector"/"detection" -> "detect").

Families are made by a few derivation rules (-ization, -ification, -ation, -ator, -ction,
-ctor, -ssion, -ssor, -vision, -ysis, -ability, and -er on a list of agent nouns), not by a general
stemmer: Porter puts "generative", "generation" and "generalization" in one stem, and
"experience" with "experiment". A rule never reaches below four letters, and a list of
words keeps lexicalised meanings apart ("transformer" the architecture is not a
"transformation", "foundation" is not "found", "validation" is not "valid").
Typos are measured as optimal string alignment distance: a swap of two letters is one edit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from rapidfuzz.distance import OSA

if TYPE_CHECKING:
    from spellchecker import SpellChecker

_WORD = re.compile(r"[^\W_]+")
# In ASCII text every character but a letter or digit separates words.
_ASCII_SEPARATORS = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})

# Words that only look like plurals.
_NOT_PLURAL = frozenset(
    {
        "news", "lens", "physics", "mathematics", "ethics", "economics", "politics", "series",
        "species", "means", "always", "perhaps", "whereas", "chaos", "thanks",
    }
)  # fmt: skip
# Words of these lengths are left alone by the inflection rules: too short to tell apart.
_MIN_STEM = 3
# A derivation rule never leaves fewer letters than this ("notation" is not "not").
_MIN_BASE = 4
_VOWELS = "aeiouy"
# Base forms that only look like past tenses ("embed" is not "emb" + "ed").
# "based" ("graph-based") is no form of "base".
_NOT_PAST = frozenset(
    {"bed", "embed", "red", "shed", "wed", "bred", "led", "sled", "hundred", "based"}
)
# Nouns of their own: "embeddings" are not "embedded", an "encoding" is not "encoded".
_ING_NOUNS = frozenset({"embedding", "encoding", "setting", "meaning", "padding", "building"})
_BRITISH_ISE = re.compile(r"(?<=\w{3})is(ation|ations|e|es|ed|ing|er|ers)$")
_BRITISH_YSE = re.compile(r"(?<=\w{3})ys(e|es|ed|ing|er|ers)$")
_BRITISH_OUR = re.compile(r"(?<=\w{3})our(s|ed|ing)?$")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")
# An acronym defined in the text: "generative adversarial networks (GANs)".
_DEFINITION = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9-]{1,11})\s*\)")

# Derivation rules on a word's exact key: (suffix, replacement). The first that fits wins.
_DERIVATIONS = (
    ("ization", "iz"),  # quantization -> quantiz (quantize, quantized)
    ("izer", "iz"),  # quantizer, tokenizer, optimizer
    ("ification", "ify"),  # classification -> classify
    ("ifier", "ify"),  # classifier, verifier
    ("ation", "at"),  # generation -> generat, segmentation -> segmentat (then -at below)
    ("ator", "at"),  # generator, simulator, estimator
    ("ability", "abl"),  # interpretability -> interpretable (not the verb: "learnability")
    ("ction", "ct"),  # detection -> detect
    ("ctor", "ct"),  # detector -> detect
    ("ssion", "ss"),  # compression -> compress
    ("ssor", "ss"),  # compressor -> compress
    ("vision", "viz"),  # supervision -> superviz, as "supervised" (read as British -ise)
    ("ysis", "yz"),  # analysis -> analyz (analyze, analyses)
)
# A verb in -ate ("generate", "annotated") and its -ation/-ator forms lose the "at", so that
# verbs without it meet their nouns: "segment" + "ation", "adapt" + "ation".
_ATE = re.compile(r"at(e|es|ed|ing|ion|ions|or|ors)$")
# Agent nouns in -er that belong to their verb ("a learner learns"). Most -er words do not:
# comparatives ("lower", "larger"), and names of things ("transformer", "computer", "layer").
_AGENT_NOUNS = frozenset(
    {
        "learner", "planner", "retriever", "ranker", "reranker", "tracker", "sampler",
        "solver", "reasoner", "recommender", "segmenter", "trainer", "explainer", "encoder",
        "decoder", "parser", "scorer", "labeler", "router", "scheduler", "controller",
        "compiler", "interpreter", "editor", "predictor", "composer", "searcher", "reader",
        "writer", "speaker", "listener", "player", "walker", "finder", "grounder",
    }
)  # fmt: skip
# Derived forms no rule reaches.
_IRREGULAR = {"retrieval": "retriev", "removal": "remov", "approval": "approv"}
# Words whose derivations lead to a different meaning: the word stays its own family.
_OWN_FAMILY = frozenset(
    {
        "transformer", "computer", "foundation", "station", "nation", "ration", "mission",
        "passion", "production", "direction", "projection", "section", "objection",
        "distinction", "factor", "director", "successor", "predecessor", "question",
        "fraction", "portion", "emotion", "motion", "potion", "notion", "caution", "lotion",
        "vector", "sector", "doctor", "session", "attention", "intention", "mention",
        "condition", "edition", "position", "function", "version", "vision", "fashion",
        "formation", "operator", "accelerator", "indicator", "moderator", "curator",
        "elevator", "radiator", "equator", "senator", "spectator", "alligator", "probability",
    }
)  # fmt: skip
# Bases too common in other senses for a derived noun to join them: "presentation" is not
# "we present", "limitations" not "limited data", "observations" (in RL) not "we observe".
_BLOCKED_BASES = frozenset(
    {
        "present", "expect", "limit", "inform", "consider", "form", "found", "valid", "observ",
        "explor", "correct", "direct", "project", "object", "abstract", "perfect", "distinct",
        "fact", "miss", "pass", "success", "stat", "st", "situ", "product", "sect", "express",
        "access", "process", "prob", "vari", "activ", "modul", "public", "design", "valu",
        "conform", "rest",
    }
)  # fmt: skip

# Words too common to be a keyword or to narrow a search by themselves.
_STOP_TEXT = """
a about above after again against all also am an and any are as at be because been
before being below between both but by can could did do does doing down during each few
for from further had has have having he her here hers herself him himself his how i if
in into is it its itself just me more most my myself no nor not now of off on once only
or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until
up upon us very via was we were what when where which while who whom why will with
within without would you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

# A compound ("pretrained", "hyperparameters") is split only into a head this long or
# longer and a tail of at least _MIN_TAIL letters ("pre" + "trained").
_MIN_HEAD = 3
_MIN_TAIL = 4
# Typo tolerance by word length: 1 edit from 5 letters, 2 from 8.
_TYPO_DISTANCES = ((8, 2), (5, 1))


def fold(text: str) -> str:
    """Lowercase, with diacritics removed ("Réseaux" -> "reseaux")."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def composed(text: str) -> str:
    """The text with accents composed ("e" + U+0301 -> "é"), so a mark never splits a word."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def tokens(text: str) -> list[str]:
    """Word tokens as written (case kept): runs of letters and digits."""
    return _WORD.findall(composed(text))


def spans(text: str) -> list[tuple[int, int]]:
    """Where each token of a composed text stands in it, for marking matches in snippets."""
    return [found.span() for found in _WORD.finditer(text)]


def words(text: str) -> list[str]:
    """The folded words of a text in order: "Graph-Based RÉSEAUX" -> graph, based, reseaux."""
    folded = fold(text)
    if folded.isascii():  # most abstracts; twice as fast as the regex, on the ingest path
        return folded.translate(_ASCII_SEPARATORS).split()
    return _WORD.findall(folded)


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
    """Strip plural and verb endings; both sides of a comparison go through this.

    A final "e" goes only where that leaves no other word ("prune", "pruned" -> "prun"),
    and an "e" comes back where a stem would be another word ("noted" -> "note", not
    "not"; "rating" -> "rate", not "rat"): the dictionary tells.
    """
    if len(word) <= _MIN_STEM or word in _NOT_PLURAL:
        return word
    if word.endswith("ies") and len(word) > 4:
        # "movies" -> "movie", "studies" -> "study"
        word = word[:-1] if is_dictionary_word(word[:-1]) else word[:-3] + "y"
    elif word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("es") and is_dictionary_word(word[:-1]):
        word = word[:-1]  # "cases", "bases", "caches"
    elif word.endswith("es") and is_dictionary_word(word[:-2]):
        word = word[:-2]  # "matches", "focuses", "heroes", "biases"
    elif word.endswith("sses") or word.endswith(("ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        word = word[:-1]
    if word in _ING_NOUNS:
        return word
    stem = None
    if word.endswith("ing") and len(word) - 3 >= _MIN_STEM and _has_vowel(word[:-3]):
        stem = word[:-3]
    elif (
        word.endswith("ed")
        and word not in _NOT_PAST
        and not word.endswith("eed")
        and len(word) - 2 >= _MIN_STEM
        and _has_vowel(word[:-2])
    ):
        stem = word[:-2]
    if stem is not None:
        word = _undouble(stem)
        # A short stem ending consonant-vowel-consonant lost an "e" ("noted" -> "note"), as
        # Porter's stemmer reads it; "pooled" and "formed" did not.
        if word == stem and _short_cvc(word):
            word += "e"
    # The e goes only from a word of five letters or more ("pose" is not "POS") whose
    # stem is no word of its own ("prune" -> "prun", but "note" is not "not").
    if (
        word.endswith("e")
        and not word.endswith("ee")
        and len(word) > _MIN_STEM + 1
        and not is_dictionary_word(word[:-1])
    ):
        word = word[:-1]
    return _single_l(word)


def _short_cvc(stem: str) -> bool:
    """One vowel group, ending consonant-vowel-consonant (not w, x or y): "not", "rat"."""
    if len(stem) < 3 or len(_VOWEL_GROUP.findall(stem)) != 1:
        return False
    first, vowel, last = stem[-3], stem[-2], stem[-1]
    return first not in _VOWELS and vowel in _VOWELS and last not in _VOWELS + "wxy"


def _single_l(word: str) -> str:
    # British "modelling", "labelled", and "controlling": a doubled l after two syllables.
    if word.endswith("ll") and len(_VOWEL_GROUP.findall(word[:-2])) >= 2:
        return word[:-1]
    return word


def _letters(word: str) -> str:
    # Folding can bring out punctuation ("⑴" -> "(1)", "½" -> 1, U+2044, 2): keys are
    # letters and digits only, so that no index or query syntax can ever be in one.
    folded = fold(word)
    return folded if folded.isalnum() else "".join(_WORD.findall(folded))


@lru_cache(maxsize=200_000)
def word_key(word: str) -> str:
    """A word's exact form: folded, American spelling, no inflection."""
    return _uninflect(_american(_letters(word)))


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


@lru_cache(maxsize=200_000)
def family(word: str) -> str:
    """The key a word's whole family shares: "quantization", "quantized" -> "quantiz"."""
    folded = _american(_letters(word))
    key = _uninflect(folded)
    singular = _singular(folded)
    if singular in _OWN_FAMILY or key in _OWN_FAMILY:
        return key
    irregular = _IRREGULAR.get(singular)
    if irregular:
        return irregular
    if singular in _AGENT_NOUNS:
        # "planner" -> "planned" -> "plan": the verb's own key, doubled letters and all.
        return _uninflect(singular[:-2] + "ed")
    derived = key
    for suffix, replacement in _DERIVATIONS:
        if key.endswith(suffix) and len(key) - len(suffix) + len(replacement) >= _MIN_BASE:
            derived = key[: -len(suffix)] + replacement
            break
    # The -at of -ate verbs and their nouns goes, unless too little or a blocked base is left.
    if derived.endswith("at") and (_ATE.search(folded) or derived != key):
        base = derived[:-2]
        if len(base) >= _MIN_BASE and base not in _BLOCKED_BASES:
            derived = base
    if derived != key and derived in _BLOCKED_BASES:
        return key
    return _single_l(derived)


def is_acronym(word: str) -> bool:
    """GAN, GNNs, MoE, LoRA: two or more capitals and no spaces."""
    # Most words are lower case: answered without counting (every token of a batch asks).
    if word.islower() or not word.isalnum():
        return False
    return sum(c.isupper() for c in word) >= 2


def singular_acronym(word: str) -> str:
    return word[:-1] if word.endswith("s") and is_acronym(word[:-1]) else word


def is_stop_word(word: str) -> bool:
    return fold(word) in STOP_WORDS


def max_typos(word: str) -> int:
    """How many edits a word may be corrected by: none below 5 letters, 2 from 8."""
    return next((d for length, d in _TYPO_DISTANCES if len(word) >= length), 0)


@lru_cache(maxsize=1)
def _dictionary() -> SpellChecker:
    # Loaded when the first word is analysed (about 0.3 s), not when the module is imported:
    # commands that read no text never pay for it, nor for importing pyspellchecker.
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


def is_dictionary_word(word: str) -> bool:
    """Whether a word is an English word: a real word is never taken for a typo of another
    ("university" is not a misspelt "universality")."""
    return fold(word) in _dictionary()


def compound_cuts(word: str) -> list[tuple[str, str]]:
    """The ways to cut a word into two parts that may be written apart ("pre" "trained")."""
    return [(word[:cut], word[cut:]) for cut in range(_MIN_HEAD, len(word) - _MIN_TAIL + 1)]


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
    long_form = tuple(family(w) for w in tokens(text[position + 1 :]))
    # A single word ("Transformer (TF)") is a name, not an expansion.
    return long_form if len(long_form) >= 2 else None


def definitions(text: str) -> Iterable[tuple[str, tuple[str, ...]]]:
    """(acronym, long form) for every "long form (ACRONYM)" in a text."""
    for found in _DEFINITION.finditer(text):
        acronym = singular_acronym(found.group(1))
        if is_acronym(acronym):
            long_form = _long_form(acronym, text[: found.start()])
            if long_form:
                yield acronym, long_form


def typo_distance(one: str, other: str) -> int:
    """Edits between two words, a swap of neighbouring letters counting as one."""
    return OSA.distance(one, other)


TYPO_SCORER = OSA.distance
