"""arXiv's category taxonomy: which `cat:` codes exist, their names, and a suggestion for a
code that does not exist.

Pure (the list ships as bot/data/arxiv_categories.txt, read once). Codes are compared
case-insensitively ("cs.cl" is cs.CL); an archive alone ("cs", "math", "q-bio") stands for
all of its categories.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib.resources import files

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

# arXiv lists these categories under two names; a paper carries either, so a subscription to
# one finds both (https://arxiv.org/category_taxonomy: "cs.NA is an alias for math.NA").
_ALIASES = (
    ("cs.IT", "math.IT"),
    ("cs.NA", "math.NA"),
    ("cs.SY", "eess.SY"),
    ("math.MP", "math-ph"),
    ("math.ST", "stat.TH"),
    ("q-fin.EC", "econ.GN"),
)
# A suggestion further than this from what was typed would be a guess, not a correction.
_MAX_DISTANCE = 3


@functools.cache
def taxonomy() -> dict[str, tuple[str, str]]:
    """Every category, by its case-folded code: (code as arXiv writes it, name)."""
    text = (files("bot") / "data" / "arxiv_categories.txt").read_text(encoding="utf-8")
    found = {}
    for line in text.splitlines():
        code, _, name = line.strip().partition(" ")
        if code:
            found[code.casefold()] = (code, name.strip())
    return found


@functools.cache
def _archives() -> dict[str, str]:
    """The archives that group several categories ("cs", "math"), by case-folded name."""
    return {code.split(".")[0].casefold(): code.split(".")[0] for code, _ in _all() if "." in code}


def _all() -> list[tuple[str, str]]:
    return list(taxonomy().values())


def canonical(code: str) -> str | None:
    """The code as arXiv writes it ("cs.cl" -> "cs.CL", "MATH" -> "math"), or None if
    arXiv has no such category or archive."""
    folded = code.strip().casefold()
    known = taxonomy().get(folded)
    if known:
        return known[0]
    return _archives().get(folded)


def name(code: str) -> str | None:
    """ "Computation and Language" for cs.CL; "all of cs" for an archive; None if unknown."""
    folded = code.casefold()
    if folded in taxonomy():
        return taxonomy()[folded][1]
    return f"all of {_archives()[folded]}" if folded in _archives() else None


def suggest(code: str) -> str | None:
    """The nearest category code to one that does not exist ("cs.CLL" -> "cs.CL")."""
    found = process.extractOne(
        code.strip().casefold(),
        list(taxonomy()),
        scorer=Levenshtein.distance,
        score_cutoff=_MAX_DISTANCE,
    )
    return taxonomy()[found[0]][0] if found else None


def prefixes(code: str) -> set[str]:
    """A code with its alias, case-folded: what a paper's category (case-folded) is, or for
    an archive starts with, if `within` takes it for `code`."""
    folded = code.casefold()
    return {folded} | {
        other.casefold()
        for pair in _ALIASES
        if folded in (pair[0].casefold(), pair[1].casefold())
        for other in pair
    }


def within(paper_categories: Iterable[str], code: str) -> bool:
    """Whether a paper listed (primary or cross-listed) in these categories is in `code`:
    the category, its alias, or any category of the archive `code` names."""
    wanted = prefixes(code)
    archive = code.casefold() + "."
    return any(
        category.casefold() in wanted or category.casefold().startswith(archive)
        for category in paper_categories
    )
