"""A reader's library file (BibTeX or RIS) read into plain records. Pure: bytes in, records out.

bibtexparser and rispy split the files; this module decides what an entry means: its title,
its arXiv id (wherever the exporter put it), its authors. Titles and abstracts are decoded
from LaTeX here, by one linear pass, rather than by bibtexparser's LatexDecodingMiddleware:
pylatexenc behind it takes ~7 ms per abstract (35 s for a 5,000-entry export), grows
quadratically on long values (minutes for a 2 MB field) and reads `50%` as a comment.

Whatever the bytes, `read_library` returns or raises `LibraryError` with one line to show.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import rispy
from bibtexparser.entrypoint import parse_string
from bibtexparser.middlewares.names import (
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from bibtexparser.model import (
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    ParsingFailedBlock,
)

from bot.sources.text import arxiv_id as versionless_arxiv_id
from bot.sources.text import squash
from storage.identity import title_key

Format = Literal["bibtex", "ris"]

# The caps bound the work one uploaded file can cause: a 5,000-entry export with abstracts
# is ~9 MB and reads in ~2.5 s; the nastiest 16 MB (a million nested braces per 2 MB) in
# ~25 s. A personal library is rarely larger; Telegram lets bots download up to 20 MB.
MAX_ENTRIES = 5_000
MAX_BYTES = 16 * 1024 * 1024


class LibraryError(ValueError):
    """The file as a whole cannot be read as a library; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One paper of a reader's library, as plain text; every field but the title may be unknown."""

    title: str
    abstract: str = ""
    arxiv_id: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    doi: str | None = None
    url: str | None = None

    @property
    def title_key(self) -> str:
        """The key stored papers are deduplicated by (storage/identity.py), to match titles."""
        return title_key(self.title)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry that was left out: where it starts (1-based line), its key if any, and why."""

    line: int | None
    key: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ReadLibrary:
    """What a file yields: its papers in file order, the entries left out, and its format."""

    entries: tuple[LibraryEntry, ...]
    skipped: tuple[Skipped, ...]
    format: Format


# --- decoding the bytes ---------------------------------------------------------------

# NUL never occurs in a text export; other control characters do (DOS end-of-file marks).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_BIBTEX_START = re.compile(r"^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]", re.MULTILINE)
# Exporters differ in the spaces around the dash; rispy wants exactly "TY  - ".
_RIS_TAG = re.compile(r"^[ \t]*([A-Z][A-Z0-9])[ \t]{1,3}-(?:[ \t](.*))?$", re.MULTILINE)
# Where bibtexparser's splitter sees a block start (@string and @comment included).
_BIBTEX_BLOCK = re.compile(r"@\w*[ \t]*[{(]")
_RIS_START = re.compile(r"^[ \t]*TY[ \t]{1,3}-", re.MULTILINE)
_BIBTEX_NAMES = (".bib", ".bibtex", ".biblatex")
_RIS_NAMES = (".ris",)


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in data:
        raise LibraryError("This is a binary file, not a BibTeX or RIS library.")
    else:
        # Windows exports are cp1252 (curly quotes at 0x93); latin-1 decodes anything left.
        encodings = ("utf-8-sig", "cp1252", "latin-1")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    raise LibraryError("The file is not readable text (neither UTF-8 nor Latin-1).")


def _format(text: str, filename: str | None) -> Format:
    starts: dict[Format, int] = {}
    if found := _BIBTEX_START.search(text):
        starts["bibtex"] = found.start()
    if found := _RIS_START.search(text):
        starts["ris"] = found.start()
    if not starts:
        raise LibraryError("This is neither a BibTeX (.bib) nor an RIS (.ris) library.")
    name = (filename or "").lower()
    named: Format | None = (
        "bibtex" if name.endswith(_BIBTEX_NAMES) else "ris" if name.endswith(_RIS_NAMES) else None
    )
    if named in starts:
        return named
    return min(starts, key=starts.__getitem__)


# --- LaTeX to plain text ----------------------------------------------------------------

_COMBINING = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
    "t": "\u0361",
}
# Letters written as commands: they stand inside words, so the space after them is TeX's.
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "\N{LATIN SMALL LETTER DOTLESS I}",
    "j": "ȷ",
}
_GREEK_NAMES = """
    alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma
    tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
"""
_GREEK = dict(
    zip(
        _GREEK_NAMES.split(),
        "αβγδεζηθικλμνξοπρστυφχψωΓΔΘΛΞΠΣΥΦΨΩ",
        strict=True,
    )
)
_SYMBOLS = {
    **_GREEK,
    "varepsilon": "ε",
    "vartheta": "ϑ",
    "varphi": "φ",
    "ell": "\N{SCRIPT SMALL L}",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
    "textbackslash": "\\",
    "textasciitilde": "~",
    "textasciicircum": "^",
    "textunderscore": "_",
    "textendash": "\N{EN DASH}",
    "textemdash": "\N{EM DASH}",
    "ldots": "…",
    "dots": "…",
    "textquoteleft": "\N{LEFT SINGLE QUOTATION MARK}",
    "textquoteright": "\N{RIGHT SINGLE QUOTATION MARK}",
    "textquotedblleft": "\N{LEFT DOUBLE QUOTATION MARK}",
    "textquotedblright": "\N{RIGHT DOUBLE QUOTATION MARK}",
    "times": "\N{MULTIPLICATION SIGN}",
    "cdot": "·",
    "pm": "±",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "neq": "≠",
    "approx": "≈",
    "sim": "\N{TILDE OPERATOR}",
    "infty": "∞",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "in": "∈",
    **{name: name for name in ("log", "ln", "exp", "sin", "cos", "max", "min", "lim", "det")},
    "euro": "€",
    "copyright": "©",
}
# Control symbols: spacing commands become a space, hyphenation hints and italic corrections
# disappear, and escaped specials (\& \% \$ \# \_ \{ \}) stand for themselves.
_CONTROL_SYMBOLS = {"\\": " ", " ": " ", ",": " ", ";": " ", ":": " ", "!": "", "-": "", "/": ""}
_ACCENTED = r"(?:\\[ij](?![A-Za-z])|[A-Za-z])"
# One pass, each alternative anchored on its first character: linear in the text's length.
_LATEX = re.compile(
    rf"""
    \\(?P<accent>["'`^~=.])\s*(?:\{{\s*(?P<a1>{_ACCENTED})\s*\}}|(?P<a2>{_ACCENTED}))
    | \\(?P<letter_accent>[uvHckrdbt])
      (?:\s*\{{\s*(?P<b1>{_ACCENTED})\s*\}}|[ \t]+(?P<b2>[A-Za-z])(?![A-Za-z]))
    | \\(?P<word>[A-Za-z]+)(?P<space>\s*)(?P<empty>\{{\}})?
    | \\(?P<symbol>[^A-Za-z]|$)
    | (?P<dash>---?)
    | (?P<open>``)
    | (?P<close>'')
    | (?P<tie>~)
    | [{{}}$]
    """,
    re.VERBOSE,
)


def _latex_match(found: re.Match[str]) -> str:
    groups = found.groupdict()
    mark = groups["accent"] or groups["letter_accent"]
    if mark:
        base = groups["a1"] or groups["a2"] or groups["b1"] or groups["b2"]
        return base.removeprefix("\\") + _COMBINING[mark]
    if word := groups["word"]:
        if word in _LETTERS:
            return _LETTERS[word]
        # An unknown command (\emph, \textbf, \mathrm) goes; its braced argument stays.
        space = " " if groups["space"] else ""
        return _SYMBOLS.get(word, "") + space
    if (symbol := groups["symbol"]) is not None:
        return _CONTROL_SYMBOLS.get(symbol, symbol)
    if dash := groups["dash"]:
        return "\N{EM DASH}" if len(dash) == 3 else "\N{EN DASH}"
    if groups["open"]:
        return "\N{LEFT DOUBLE QUOTATION MARK}"
    if groups["close"]:
        return "\N{RIGHT DOUBLE QUOTATION MARK}"
    return " " if groups["tie"] else ""  # braces and math shifts


def latex_to_text(text: str) -> str:
    """Plain text of a BibTeX value: accents composed, commands and braces gone, one space."""
    decoded = _LATEX.sub(_latex_match, text)
    return " ".join(unicodedata.normalize("NFC", decoded).split())


# --- arXiv ids ----------------------------------------------------------------------------

_ID = r"(?:\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
# An arXiv id inside free text: a URL on arxiv.org, an arXiv DOI, "arXiv:ID" or, as Google
# Scholar writes old ids, "arXiv preprint hep-th/9802150".
_ARXIV_IN_TEXT = re.compile(
    rf"""(?:
        (?i:arxiv\.org/(?:abs|pdf|html|format)/)(?P<url>{_ID})
      | (?i:10\.48550/arxiv\.)(?P<doi>{_ID})
      | (?<![\w.])(?i:arxiv(?:\s+preprint)?:?\s*)(?P<label>{_ID})
    )(?![\d/])""",
    re.VERBOSE,
)
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_YEAR = re.compile(r"(?<!\d)(1[6-9]\d\d|2[01]\d\d)(?!\d)")


def _id_in(text: str) -> str | None:
    for found in _ARXIV_IN_TEXT.finditer(text):
        raw = found.group("url") or found.group("doi") or found.group("label")
        if arxiv := versionless_arxiv_id(raw):
            return arxiv
    return None


def _first_id(values: Iterable[str]) -> str | None:
    return next((found for value in values if (found := _id_in(value))), None)


def _doi(value: str) -> str | None:
    found = _DOI.search(value)
    return found.group().rstrip(".,;") if found else None


def _year(*values: str) -> int | None:
    return next((int(found.group()) for value in values if (found := _YEAR.search(value))), None)


def _first_url(value: str) -> str | None:
    return next((part for part in value.split() if part.startswith(("http://", "https://"))), None)


# --- BibTeX ---------------------------------------------------------------------------------

# biblatex containers that hold fields for other entries rather than describe a paper.
_NOT_PAPERS = frozenset({"set", "xdata"})
# Fields that hold a bare id ("1706.03762v2"), then fields that mention one in a URL, a
# DOI or as "arXiv:ID"; most explicit first.
_BIBTEX_ID_FIELDS = ("arxiv", "arxivid", "arxiv_id")
_BIBTEX_MENTION_FIELDS = ("doi", "url", "pdf", "howpublished", "note", "journal")


def _fields(entry: Entry) -> dict[str, str]:
    """Lowercased field names to their raw values; with a field given twice, the first counts."""
    fields: dict[str, str] = {}
    for field in entry.fields:
        if isinstance(field.value, str):
            fields.setdefault(field.key.strip().lower(), field.value)
    return fields


def _bare_id(value: str) -> str | None:
    """The id a field holds by itself ("1706.03762v2", "arXiv:hep-th/9901001 [hep-th]")."""
    head = value.split(maxsplit=1)
    return (versionless_arxiv_id(head[0]) or _id_in(value)) if head else None


def _bibtex_arxiv_id(fields: Mapping[str, str]) -> str | None:
    # biblatex says eprinttype, BibTeX archivePrefix; an eprint of another archive is no id.
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    if prefix in ("", "arxiv") and (found := _bare_id(fields.get("eprint", ""))):
        return found
    for name in _BIBTEX_ID_FIELDS:
        if found := _bare_id(fields.get(name, "")):
            return found
    # DBLP: journal = {CoRR}, volume = {abs/1706.03762}.
    journal = fields.get("journal", "").strip().lower()
    if journal == "corr" and (found := versionless_arxiv_id(fields.get("volume", ""))):
        return found
    return _first_id(fields.get(name, "") for name in _BIBTEX_MENTION_FIELDS)


def _bibtex_name(name: str) -> str:
    # A name bibtexparser cannot split is kept as written.
    with contextlib.suppress(Exception):
        name = parse_single_name_into_parts(name, strict=False).merge_first_name_first
    return latex_to_text(name)


def _bibtex_authors(value: str) -> tuple[str, ...]:
    try:
        names = split_multiple_persons_names(value)
    except Exception:  # one odd author field never loses the entry
        names = [value]
    decoded = (_bibtex_name(name) for name in names if name.strip().lower() != "others")
    return tuple(name for name in decoded if name)


def _bibtex_entry(entry: Entry) -> LibraryEntry | str:
    """The entry read, or why it is skipped."""
    kind = entry.entry_type.strip().lower()
    if kind in _NOT_PAPERS:
        return f"not a paper entry (@{kind})"
    fields = _fields(entry)
    title = latex_to_text(fields.get("title", ""))
    if not title:
        return "no title"
    doi = fields.get("doi", "")
    return LibraryEntry(
        title=title,
        abstract=latex_to_text(fields.get("abstract", "")),
        arxiv_id=_bibtex_arxiv_id(fields),
        authors=_bibtex_authors(fields.get("author", "")),
        year=_year(fields.get("year", ""), fields.get("date", "")),
        doi=_doi(doi),
        url=_first_url(fields.get("url", "")) or _first_url(doi),
    )


def _line(start: int | None) -> int | None:
    return None if start is None else start + 1  # bibtexparser counts lines from 0


def _read_bibtex(text: str) -> tuple[list[LibraryEntry], list[Skipped]]:
    # Counted before parsing, with the splitter's own idea of a block start: a file of
    # 600,000 broken blocks would cost seconds and log a warning for each.
    count = len(_BIBTEX_BLOCK.findall(text))
    if count > MAX_ENTRIES:
        raise LibraryError(_too_many(count))
    library = parse_string(text)
    entries: list[LibraryEntry] = []
    skipped: list[Skipped] = []
    for found in library.blocks:
        # A key or a field given twice still describes a paper (concatenated exports).
        block = (
            found.ignore_error_block
            if isinstance(found, (DuplicateBlockKeyBlock, DuplicateFieldKeyBlock))
            else found
        )
        if isinstance(block, Entry):
            read = _bibtex_entry(block)
            if isinstance(read, LibraryEntry):
                entries.append(read)
            else:
                skipped.append(Skipped(_line(block.start_line), block.key or None, read))
        elif isinstance(block, ParsingFailedBlock):
            skipped.append(Skipped(_line(block.start_line), None, "unparsable"))
        # @string and @preamble blocks were used or are irrelevant, and comments are
        # comments: listing them as skipped would only alarm the reader.
    return entries, skipped


# --- RIS --------------------------------------------------------------------------------------

_RIS_ID_KEYS = (
    "doi",
    "urls",
    "file_attachments1",
    "file_attachments2",
    "notes",
    "note",
    "journal_name",
    "secondary_title",
    "alternate_title3",
    "custom1",
    "custom2",
    "number",
)


def _strings(value: object) -> Iterator[str]:
    """The strings in one rispy value: a string, a list of them, or unknown tags by name."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)


def _ris_first(record: Mapping[str, object], *keys: str) -> str:
    return next((squash(text) for key in keys for text in _strings(record.get(key)) if text), "")


def _ris_name(name: str) -> str:
    """ "Vaswani, Ashish" -> "Ashish Vaswani" (a suffix after a second comma goes last)."""
    last, _, rest = name.partition(",")
    first, _, suffix = rest.partition(",")
    return squash(" ".join((first, last, suffix)))


def _ris_entry(record: Mapping[str, object]) -> LibraryEntry | str:
    title = _ris_first(record, "title", "primary_title", "translated_title")
    if not title:
        return "no title"
    names = [*_strings(record.get("authors")), *_strings(record.get("first_authors"))]
    doi = _ris_first(record, "doi")
    searched = [text for key in _RIS_ID_KEYS for text in _strings(record.get(key))]
    return LibraryEntry(
        title=title,
        abstract=_ris_first(record, "abstract", "notes_abstract"),
        arxiv_id=_first_id([*searched, *_strings(record.get("unknown_tag"))]),
        authors=tuple(name for name in map(_ris_name, names) if name),
        year=_year(*(_ris_first(record, key) for key in ("year", "publication_year", "date"))),
        doi=_doi(doi),
        url=next((url for text in _strings(record.get("urls")) if (url := _first_url(text))), None)
        or _first_url(doi),
    )


def _ris_records(text: str) -> list[tuple[int, str]]:
    """Each record's first line (1-based) and its text, one line a tag as rispy expects."""
    lines = _RIS_TAG.sub(lambda found: f"{found[1]}  - {found[2] or ''}", text).split("\n")
    records: list[tuple[int, list[list[str]]]] = []
    for number, line in enumerate(lines, start=1):
        if line.startswith("TY  - "):
            records.append((number, []))
        if not records:
            continue
        tags = records[-1][1]
        if _RIS_TAG.match(line) or not tags:
            tags.append([line])
        elif line.strip():
            # A wrapped value: joined here, as rispy joins each line anew (quadratic).
            tags[-1].append(line.strip())
    # A record cut off before its ER (a truncated file) still says what it holds.
    return [
        (number, "\n".join([*(" ".join(parts) for parts in tags), "ER  - "]))
        for number, tags in records
    ]


def _read_ris(text: str) -> tuple[list[LibraryEntry], list[Skipped]]:
    count = len(_RIS_START.findall(text))
    if count > MAX_ENTRIES:
        raise LibraryError(_too_many(count))
    records = _ris_records(text)
    entries: list[LibraryEntry] = []
    skipped: list[Skipped] = []
    for line, body in records:
        # One record at a time: rispy raises (KeyError) on some malformed records.
        try:
            parsed = rispy.loads(body)
        except Exception:  # the record is reported, the others are read
            parsed = None
        if not parsed or not isinstance(parsed[0], dict):
            skipped.append(Skipped(line, None, "unparsable"))
            continue
        record = parsed[0]
        read = _ris_entry(record)
        if isinstance(read, LibraryEntry):
            entries.append(read)
        else:
            skipped.append(Skipped(line, _ris_first(record, "id") or None, read))
    return entries, skipped


# --- the whole file ---------------------------------------------------------------------------


def _too_many(count: int) -> str:
    return (
        f"The library holds {count:,} entries, more than {MAX_ENTRIES:,}; "
        "export a smaller collection."
    )


def read_library(data: bytes, filename: str | None = None) -> ReadLibrary:
    """The papers in a BibTeX or RIS export; entries that cannot be read are listed as skipped.

    The format comes from the file name when its content agrees, else from the content.
    Raises LibraryError (one line, for the user) when the file as a whole is no library.
    """
    if not data.strip():
        raise LibraryError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise LibraryError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    text = _text(data)
    kind = _format(text, filename)
    try:
        entries, skipped = _read_bibtex(text) if kind == "bibtex" else _read_ris(text)
    except LibraryError:
        raise
    except Exception:  # a parser bug (RecursionError too) must not reach the chat
        raise LibraryError(f"The {_NAMES[kind]} file could not be read.") from None
    if not entries:
        if skipped:
            raise LibraryError(
                f"None of the {len(skipped):,} entries could be read "
                f"(the first: {skipped[0].reason})."
            )
        raise LibraryError(f"No entries were found in this {_NAMES[kind]} file.")
    return ReadLibrary(entries=tuple(entries), skipped=tuple(skipped), format=kind)


_NAMES: dict[Format, str] = {"bibtex": "BibTeX", "ris": "RIS"}
