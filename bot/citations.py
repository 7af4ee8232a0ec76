"""Saved papers written out as a BibTeX or RIS file for the reader's reference manager. Pure.

Both formats always carry the paper's link (Paper.link) and, when the arXiv id is known,
the arXiv DOI, so a reference manager can complete the record. Files written here read
back through bot/library.py to the same titles and arXiv ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import count, product
from string import ascii_lowercase

from bot.analysis import STOP_WORDS, words
from bot.records import Paper

_ARXIV_DOI = "10.48550/arXiv.{}"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# LaTeX's special characters, written so that BibTeX and LaTeX print them as typed.
_LATEX_ESCAPES = str.maketrans(
    {
        "\\": r"\textbackslash{}",
        "{": r"\{",
        "}": r"\}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
)
# "--" would print as a dash and "``" / "''" as curly quotes: an empty group keeps them apart.
_LIGATURE = re.compile(r"([-`'])(?=\1)")
_AND = re.compile(r"\band\b", re.IGNORECASE)
_URL_UNSAFE = str.maketrans({"{": "%7B", "}": "%7D", "\\": "%5C", " ": "%20"})


def _clean(text: str) -> str:
    """One line: control characters and runs of whitespace become one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _latex(text: str) -> str:
    return _LIGATURE.sub(r"\1{}", _clean(text).translate(_LATEX_ESCAPES))


def _year(paper: Paper) -> int | None:
    if paper.published:
        return paper.published.year
    if not paper.arxiv_id:
        return None
    # New ids start with YYMM (2401.01234), old ones end with YYMMNNN (hep-th/9901001).
    digits = paper.arxiv_id[:2] if "/" not in paper.arxiv_id else paper.arxiv_id[-7:-5]
    if not digits.isdigit():
        return None
    yy = int(digits)
    return 1900 + yy if yy >= 91 else 2000 + yy  # arXiv opened in 1991


def paper_url(paper: Paper) -> str:
    """The paper's link (Paper.link, which every paper has: a file of references needs a
    url for each), written so that BibTeX and RIS read it whole."""
    return _clean(paper.link).translate(_URL_UNSAFE)


def _ascii_word(text: str) -> str:
    return "".join(char for char in text if char.isascii() and char.isalnum())


def _key_stem(paper: Paper) -> str:
    """lastname + year + first significant title word, as Google Scholar names keys."""
    surname = next((_ascii_word(word) for word in words(" ".join(paper.authors[:1]))[::-1]), "")
    title_words = (_ascii_word(word) for word in words(paper.title) if word not in STOP_WORDS)
    first = next((word for word in title_words if word), "")
    year = _year(paper)
    return f"{surname or 'anon'}{year or ''}{first or 'paper'}"


def _suffixes() -> Iterator[str]:
    """a, b, ..., z, aa, ab, ...: the letters that tell papers with one stem apart."""
    for length in count(1):
        for letters in product(ascii_lowercase, repeat=length):
            yield "".join(letters)


def citation_keys(papers: Sequence[Paper]) -> list[str]:
    """A unique key per paper; papers that share a stem all get a letter, in order."""
    stems = [_key_stem(paper) for paper in papers]
    shared = {stem for stem in stems if stems.count(stem) > 1}
    taken = set(stems) - shared
    letters: dict[str, Iterator[str]] = {stem: _suffixes() for stem in shared}
    keys: list[str] = []
    for stem in stems:
        key = stem
        if stem in shared:
            # A lettered key could collide with another paper's plain stem: skip that letter.
            while (key := stem + next(letters[stem])) in taken:
                pass
            taken.add(key)
        keys.append(key)
    return keys


def _bibtex_name(name: str) -> str:
    """A name BibTeX reads as one person: braced if it holds a comma or the word "and"."""
    escaped = _latex(name)
    return f"{{{escaped}}}" if "," in escaped or _AND.search(escaped) else escaped


def _bibtex_fields(paper: Paper) -> Iterator[tuple[str, str]]:
    # Double braces keep the title's capitals (BibTeX styles lowercase titles otherwise).
    yield "title", f"{{{_latex(paper.title)}}}"
    names = [name for name in map(_bibtex_name, paper.authors) if name]
    if names:
        yield "author", " and ".join(names)
    if year := _year(paper):
        yield "year", str(year)
    if paper.arxiv_id:
        yield "eprint", paper.arxiv_id
        yield "archivePrefix", "arXiv"
        if paper.categories:
            yield "primaryClass", _latex(paper.categories[0])
        yield "doi", _ARXIV_DOI.format(paper.arxiv_id)
    yield "url", paper_url(paper)
    if abstract := _latex(paper.abstract):
        yield "abstract", abstract


def bibtex(papers: Sequence[Paper]) -> str:
    """One @misc entry per paper, in order, with unique citation keys; UTF-8 text as typed."""
    entries = []
    for key, paper in zip(citation_keys(papers), papers, strict=True):
        fields = ",\n".join(f"  {name} = {{{value}}}" for name, value in _bibtex_fields(paper))
        entries.append(f"@misc{{{key},\n{fields}\n}}\n")
    return "\n".join(entries)


def _ris_name(name: str) -> str:
    """ "Ashish Vaswani" -> "Vaswani, Ashish": RIS wants the family name first."""
    parts = _clean(name).split()
    if len(parts) < 2 or "," in name:
        return " ".join(parts)
    return f"{parts[-1]}, {' '.join(parts[:-1])}"


def _ris_lines(paper: Paper) -> Iterator[str]:
    yield "TY  - GEN"  # RIS has no preprint type; "generic" imports everywhere
    yield f"TI  - {_clean(paper.title)}"
    for name in paper.authors:
        if author := _ris_name(name):
            yield f"AU  - {author}"
    if year := _year(paper):
        yield f"PY  - {year}"
    if paper.published:
        yield f"DA  - {paper.published:%Y/%m/%d}/"
    if abstract := _clean(paper.abstract):
        yield f"AB  - {abstract}"
    yield f"UR  - {paper_url(paper)}"
    if paper.arxiv_id:
        yield f"DO  - {_ARXIV_DOI.format(paper.arxiv_id)}"
        yield f"N1  - arXiv:{paper.arxiv_id}"
    yield "ER  - "


def ris(papers: Sequence[Paper]) -> str:
    """One RIS record per paper, in order; CRLF line ends, as the format specifies."""
    return "".join("\r\n".join([*_ris_lines(paper), "", ""]) for paper in papers)
