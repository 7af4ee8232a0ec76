"""Author names: whether a name someone follows is the name a paper gives.

Pure. Feeds write one person's name many ways: "Yann LeCun", "Y. LeCun", "LeCun, Yann",
"Yann Le Cun"; "Jürgen Schmidhuber" and "Jurgen Schmidhuber"; "María García-López" and
"Maria Garcia Lopez". `same_person` accepts those and never a different person with the
same last name:

- accents, case, dots, apostrophes and the hyphen-or-space between name parts do not count;
- "Last, First" (with a comma) says which part is the last name; without one the last name
  is the final word, or the final words ("Le Cun", "van der Maaten", "Garcia-Lopez");
- last names must agree; first names must agree word by word, where an initial stands for
  any name with that letter ("Y." is Yann, but "Yann" is not Xavier); a name given without
  first names (a last name alone) agrees with every first name;
- a last name of several plain words ("Garcia Lopez", not hyphenated and without a
  particle) is only a guess at how the name splits: two such guesses agree only when
  neither side has first names left, so "Wei Zhang" is never taken for "Li Wei Zhang".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Letters that do not decompose into a base letter and an accent.
_LETTERS = str.maketrans(
    {"ß": "ss", "ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "\u0131": "i"}  # dotless i
)
# Words that join a last name rather than end the first names: "Yann Le Cun" is a Le Cun.
PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "das",
        "dos",
        "du",
        "le",
        "la",
        "ter",
        "ten",
        "st",
    ]
)
# Trailing generational suffixes, no part of the name to compare.
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_APOSTROPHES = re.compile("['\u2019\u02bc`]")
MAX_NAME = 200
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def fold(text: str) -> str:
    """Lower case, without accents: "Schäfl" -> "schafl", "Łukasz" -> "lukasz"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> list[tuple[str, ...]]:
    """The words of a name, each as its hyphen-joined parts: "J.-P. García-López" ->
    [("j", "p"), ("garcia", "lopez")]; dots separate initials ("J.R.R." is three)."""
    text = _APOSTROPHES.sub("", fold(text)).replace(".", ". ")
    words = [tuple(word.split("-")) for word in _WORDS.findall(text)]
    while len(words) > 1 and words[-1] in {(suffix,) for suffix in _SUFFIXES}:
        words.pop()
    return words


def _is_suffix(text: str) -> bool:
    return _APOSTROPHES.sub("", fold(text)).strip(" .") in _SUFFIXES


@dataclass(frozen=True, slots=True)
class Reading:
    """One way to read a name: its last name (parts run together) and first names."""

    last: str
    first: tuple[str, ...]
    # A last name of several plain words: the split is a guess (see the module docstring).
    guessed: bool = False


def _particle(word: tuple[str, ...]) -> bool:
    return len(word) == 1 and word[0] in PARTICLES


def _reading(first: list[tuple[str, ...]], last: list[tuple[str, ...]], sure: bool) -> Reading:
    # "van der Maaten" is surely one last name; "Garcia Lopez" or "Yann Le Cun" may not be.
    plain = len(last) > 1 and not all(_particle(word) for word in last[:-1])
    return Reading(
        "".join(part for word in last for part in word),
        tuple("-".join(word) for word in first),
        guessed=plain and not sure,
    )


@functools.lru_cache(maxsize=65_536)
def readings(name: str) -> tuple[Reading, ...]:
    """Every plausible split of a name into first names and a last name."""
    # No real name is longer; a page's hostile "author" of 100,000 characters would make
    # the splits below take minutes.
    name = name[:MAX_NAME]
    last_text, comma, rest = name.partition(",")
    first_text = rest.split(",")[0]
    # "LeCun, Yann"; but "John Smith, Jr." and "Y., LeCun" are read without the comma.
    if comma and _words(first_text) and not _is_suffix(first_text):
        last, first = _words(last_text), _words(first_text)
        if last and not any(len(part) == 1 for word in last for part in word):
            return (_reading(first, last, sure=True),)
    if comma:
        name = " ".join(part for part in name.split(",") if not _is_suffix(part))
    words = _words(name)
    found = []
    for cut in range(len(words)):
        first, last = words[:cut], words[cut:]
        # An initial is no part of a last name; a particle after a first name begins one.
        if any(len(part) == 1 for word in last for part in word):
            continue
        if first and cut > 1 and _particle(first[-1]):
            continue
        found.append(_reading(first, last, sure=len(last) == 1))
    return tuple(found)


def _same_first(one: str, other: str) -> bool:
    """One first name (its hyphenated parts joined by "-") against another: initials stand
    for names with those letters ("J.-P." is Jean-Pierre, "J." is Jean or Jean-Pierre), but
    a full name must be the same name ("Fei-Fei" is not "Fei")."""
    ones, others = one.split("-"), other.split("-")
    if all(len(part) == 1 for part in ones) or all(len(part) == 1 for part in others):
        shared = min(len(ones), len(others))
        return [p[0] for p in ones[:shared]] == [p[0] for p in others[:shared]]
    return ones == others


def _agree(one: Reading, other: Reading) -> bool:
    if one.last != other.last:
        return False
    if one.guessed and other.guessed and (one.first or other.first):
        return False
    return all(_same_first(a, b) for a, b in zip(one.first, other.first, strict=False))


def same_person(wanted: str, author: str) -> bool:
    """Whether the author a paper names may be the person `wanted` names."""
    return any(_agree(one, other) for one in readings(wanted) for other in readings(author))


def last_names(name: str) -> frozenset[str]:
    """The last names a name may have, run together: what to index authors by."""
    return frozenset(reading.last for reading in readings(name))
