"""What the search indexes hold: each paper's words as bot/analysis.py reads them.

A paper is analysed once, when it is stored, into four texts of keys (its title's and its
abstract's exact forms and word families) in papers_fts_terms; the full-text indexes of
both databases are built from those by triggers (migration 0006). The vocabulary tables
count the papers of each surface word (for corrections and prefix completion) and of each
word family (to tell a typo from a rare form of a common word).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.analysis import definitions, family, word_key, words
from storage.models import Base, SearchAcronymRow, SearchFamilyRow, SearchWordRow

TERMS_TABLE = "papers_fts_terms"

# The vocabulary only needs the words that typo correction may suggest and that compounds
# are split into ("pre" + "trained"): alphabetic words of 3 letters or more (shorter ones
# are never corrected) and not absurdly long.
VOCABULARY_MIN_LENGTH = 3
VOCABULARY_MAX_LENGTH = 40

_UPSERT_TERMS = text(
    f"INSERT INTO {TERMS_TABLE} (id, title_exact, abstract_exact, title_family, abstract_family) "
    "VALUES (:id, :title_exact, :abstract_exact, :title_family, :abstract_family) "
    "ON CONFLICT (id) DO UPDATE SET title_exact = excluded.title_exact, "
    "abstract_exact = excluded.abstract_exact, title_family = excluded.title_family, "
    "abstract_family = excluded.abstract_family"
)


def belongs_in_vocabulary(word: str) -> bool:
    return VOCABULARY_MIN_LENGTH <= len(word) <= VOCABULARY_MAX_LENGTH and word.isalpha()


def vocabulary_words(*texts: str) -> set[str]:
    """The distinct words of some texts that belong in the search vocabulary."""
    return {word for word in set(words(" ".join(texts))) if belongs_in_vocabulary(word)}


def _analysed(text_: str) -> tuple[str, str]:
    found = words(text_)
    return " ".join(word_key(w) for w in found), " ".join(family(w) for w in found)


def families(title: str, abstract: str) -> tuple[str, str]:
    """A title's and an abstract's word families, as papers_fts_terms holds a paper's."""
    return _analysed(title)[1], _analysed(abstract)[1]


def terms_row(paper_id: int, title: str, abstract: str) -> dict[str, object]:
    title_exact, title_family = _analysed(title)
    abstract_exact, abstract_family = _analysed(abstract)
    return {
        "id": paper_id,
        "title_exact": title_exact,
        "abstract_exact": abstract_exact,
        "title_family": title_family,
        "abstract_family": abstract_family,
    }


def insert_terms(connection: Connection | Session, papers: Iterable[tuple[int, str, str]]) -> None:
    """Index (or re-index) papers given as (id, title, abstract)."""
    rows = [terms_row(*paper) for paper in papers]
    if rows:
        connection.execute(_UPSERT_TERMS, rows)


@dataclass(frozen=True, slots=True)
class Indexed:
    """What the vocabulary tables count of one paper."""

    words: frozenset[str]
    families: frozenset[str]
    # (acronym, long form as families joined by spaces)
    definitions: frozenset[tuple[str, str]]


def indexed(title: str, abstract: str) -> Indexed:
    found = vocabulary_words(title, abstract)
    return Indexed(
        frozenset(found),
        frozenset(family(word) for word in found),
        frozenset(
            (acronym, " ".join(long_form))
            for text_ in (title, abstract)
            for acronym, long_form in definitions(text_)
        ),
    )


_EMPTY = Indexed(frozenset(), frozenset(), frozenset())
_COUNTED = (
    (SearchWordRow, ("word",), "words"),
    (SearchFamilyRow, ("family",), "families"),
    (SearchAcronymRow, ("acronym", "long_form"), "definitions"),
)


def _upsert_counts(
    session: Session, table: type[Base], keys: Sequence[str], changes: Counter[Any]
) -> None:
    rows = [
        {**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)), "papers": n}
        for key, n in sorted(changes.items())
        if n
    ]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    columns = table.__table__.c
    insert = dialect.insert(table)
    upsert = insert.on_conflict_do_update(
        index_elements=[columns[key] for key in keys],
        set_={"papers": columns.papers + insert.excluded.papers},
    )
    # On the connection, not the session: the ORM's per-row bookkeeping doubles the time.
    session.connection().execute(upsert, rows)
    if any(n < 0 for n in changes.values()):
        session.execute(delete(table).where(columns.papers <= 0))


def update_vocabulary(session: Session, changes: Sequence[tuple[Indexed | None, Indexed]]) -> None:
    """Count the papers of each word, family and acronym definition: one (before, after)
    per paper stored or changed (None before for a new paper).

    One statement per table for the whole batch, an upsert that both databases speak.
    """
    for table, keys, field in _COUNTED:
        counts: Counter[Any] = Counter()
        for before, after in changes:
            old: frozenset[Any] = getattr(before or _EMPTY, field)
            new: frozenset[Any] = getattr(after, field)
            counts.update(new - old)
            counts.subtract(old - new)
        _upsert_counts(session, table, keys, counts)


_REBUILD_BATCH = 2_000
_PAPERS_AFTER = text("SELECT id, title, abstract FROM papers WHERE id > :last ORDER BY id LIMIT :n")


def rebuild(session: Session) -> None:
    """Analyse every stored paper anew: the search tables and indexes from the papers alone
    (after an import, whose file need not hold them)."""
    for table in (TERMS_TABLE, *(table.__tablename__ for table, _, _ in _COUNTED)):
        session.execute(text(f"DELETE FROM {table}"))
    last = 0
    while rows := session.execute(_PAPERS_AFTER, {"last": last, "n": _REBUILD_BATCH}).all():
        papers = [(row[0], row[1], row[2]) for row in rows]
        insert_terms(session, papers)
        update_vocabulary(
            session, [(None, indexed(title, abstract)) for _, title, abstract in papers]
        )
        last = papers[-1][0]
