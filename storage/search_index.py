"""What the search indexes hold: each paper's words as bot/analysis.py reads them.

A paper is analysed once, when it is stored, into four texts of keys (its title's and its
abstract's exact forms and word families) in papers_fts_terms; the full-text indexes of
both databases are built from those, by triggers (migration 0006) except for SQLite's new
papers, indexed a batch at a time here (migration 0009). The vocabulary tables
count the papers of each surface word (for corrections and prefix completion) and of each
word family (to tell a typo from a rare form of a common word).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, delete, text
from sqlalchemy.orm import Session

from bot.analysis import definitions, family, word_key, words
from storage.models import Base, SearchAcronymRow, SearchFamilyRow, SearchWordRow

TERMS_TABLE = "papers_fts_terms"

# The vocabulary only needs the words that typo correction may suggest and that compounds
# are split into ("pre" + "trained"): alphabetic words of 3 letters or more (shorter ones
# are never corrected) and not absurdly long.
VOCABULARY_MIN_LENGTH = 3
VOCABULARY_MAX_LENGTH = 40

_TERMS_COLUMNS = "title_exact, abstract_exact, title_family, abstract_family"
_TITLE_COLUMNS = "title_exact, title_family"
_UPSERT_TERMS = text(
    f"INSERT INTO {TERMS_TABLE} (id, title_exact, abstract_exact, title_family, abstract_family) "
    "VALUES (:id, :title_exact, :abstract_exact, :title_family, :abstract_family) "
    "ON CONFLICT (id) DO UPDATE SET title_exact = excluded.title_exact, "
    "abstract_exact = excluded.abstract_exact, title_family = excluded.title_family, "
    "abstract_family = excluded.abstract_family"
)
# SQLite: the full-text indexes of new papers are filled per batch, not by a trigger per
# row (migration 0009). The ids of a batch travel as one JSON array.
_IDS = "SELECT value FROM json_each(:ids)"
_STORED_IDS = text(f"SELECT id FROM {TERMS_TABLE} WHERE id IN ({_IDS})")
_FILL_FTS = (
    text(
        f"INSERT INTO papers_fts (rowid, {_TERMS_COLUMNS}) "
        f"SELECT id, {_TERMS_COLUMNS} FROM {TERMS_TABLE} WHERE id IN ({_IDS})"
    ),
    text(
        f"INSERT INTO papers_fts_titles (rowid, {_TITLE_COLUMNS}) "
        f"SELECT id, {_TITLE_COLUMNS} FROM {TERMS_TABLE} WHERE id IN ({_IDS})"
    ),
)
# The index of the newest RECENT papers, kept as migration 0006's row trigger kept it: a new
# paper goes in if no newer one is there (ids only grow, so every new paper but after a
# deletion of the newest), the ones RECENT ids older than the newest leave, and the index
# is optimized each time an id reaches a multiple of RECENT_OPTIMIZE_EVERY.
RECENT = 50_000
RECENT_OPTIMIZE_EVERY = 10_000
_RECENT_TOP = text("SELECT coalesce(max(id), 0) FROM papers_fts_recent_docsize")
_FILL_RECENT = text(
    f"INSERT INTO papers_fts_recent (rowid, {_TERMS_COLUMNS}) "
    f"SELECT id, {_TERMS_COLUMNS} FROM {TERMS_TABLE} WHERE id IN ({_IDS})"
)
_TRIM_RECENT = text(
    f"INSERT INTO papers_fts_recent (papers_fts_recent, rowid, {_TERMS_COLUMNS}) "
    f"SELECT 'delete', id, {_TERMS_COLUMNS} FROM {TERMS_TABLE} WHERE id IN ("
    "SELECT id FROM papers_fts_recent_docsize WHERE id <= :oldest)"
)
_OPTIMIZE_RECENT = text("INSERT INTO papers_fts_recent (papers_fts_recent) VALUES ('optimize')")


def belongs_in_vocabulary(word: str) -> bool:
    return VOCABULARY_MIN_LENGTH <= len(word) <= VOCABULARY_MAX_LENGTH and word.isalpha()


def vocabulary_words(*texts: str) -> set[str]:
    """The distinct words of some texts that belong in the search vocabulary."""
    return {word for word in set(words(" ".join(texts))) if belongs_in_vocabulary(word)}


class _Keys(dict[str, tuple[str, str]]):
    """Each word's exact key and family, computed once: a bulk load looks up hundreds of
    words per paper, and a dict lookup is the cheapest way to (see analyse)."""

    def __missing__(self, word: str) -> tuple[str, str]:
        if len(self) >= _KEYS_KEPT:
            self.clear()
        # Past the functions' own caches, which would hold every word a second time.
        keys = self[word] = (word_key.__wrapped__(word), family.__wrapped__(word))
        return keys


class _InVocabulary(dict[str, bool]):
    def __missing__(self, word: str) -> bool:
        if len(self) >= _KEYS_KEPT:
            self.clear()
        belongs = self[word] = belongs_in_vocabulary(word)
        return belongs


# Distinct words kept by the caches above (a few MB), then forgotten all at once.
_KEYS_KEPT = 50_000
_KEYS = _Keys()
_IN_VOCABULARY = _InVocabulary()


def _keys(found: list[str]) -> tuple[str, str]:
    if not found:
        return "", ""
    exact, families_ = zip(*map(_KEYS.__getitem__, found), strict=True)
    return " ".join(exact), " ".join(families_)


def _analysed(text_: str) -> tuple[str, str]:
    return _keys(words(text_))


def families(title: str, abstract: str) -> tuple[str, str]:
    """A title's and an abstract's word families, as papers_fts_terms holds a paper's."""
    return _analysed(title)[1], _analysed(abstract)[1]


# A paper's analysed texts: title_exact, abstract_exact, title_family, abstract_family.
Terms = tuple[str, str, str, str]


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


def upsert_terms(connection: Connection | Session, rows: Sequence[dict[str, object]]) -> None:
    """Write analysed texts as they are (migration 0006, whose triggers index them)."""
    if rows:
        connection.execute(_UPSERT_TERMS, rows)


def insert_terms(connection: Connection | Session, papers: Iterable[tuple[int, str, str]]) -> None:
    """Index (or re-index) papers given as (id, title, abstract)."""
    write_terms(connection, [(i, *analyse(title, abstract)[0]) for i, title, abstract in papers])


def write_terms(
    connection: Connection | Session, rows: Sequence[tuple[int, str, str, str, str]]
) -> None:
    """Store analysed texts (id, then Terms) and bring the full-text indexes up to date.

    PostgreSQL indexes each row by trigger; SQLite's update trigger re-indexes a stored
    paper, and its new papers are indexed here, a statement per index for the whole batch.
    """
    if not rows:
        return
    bind = connection if isinstance(connection, Connection) else connection.connection()
    sqlite_ = bind.dialect.name == "sqlite"
    new_ids = [row[0] for row in rows]
    if sqlite_:
        stored = set(bind.scalars(_STORED_IDS, {"ids": json.dumps(new_ids)}))
        new_ids = sorted(i for i in new_ids if i not in stored)
    placeholder = "?" if sqlite_ else "%s"
    bind.exec_driver_sql(_upsert_terms_sql(placeholder), list(rows))
    if sqlite_ and new_ids:
        _index_new(bind, new_ids)


@cache
def _upsert_terms_sql(placeholder: str) -> str:
    # The statement of _UPSERT_TERMS for the driver itself: SQLAlchemy's per-row parameter
    # handling costs more than the insert.
    values = ", ".join([placeholder] * 5)
    return (
        f"INSERT INTO {TERMS_TABLE} (id, {_TERMS_COLUMNS}) VALUES ({values}) "
        "ON CONFLICT (id) DO UPDATE SET title_exact = excluded.title_exact, "
        "abstract_exact = excluded.abstract_exact, title_family = excluded.title_family, "
        "abstract_family = excluded.abstract_family"
    )


def _index_new(bind: Connection, new_ids: list[int]) -> None:
    """SQLite: add papers new to papers_fts_terms (ids ascending) to the full-text indexes."""
    ids = json.dumps(new_ids)
    for statement in _FILL_FTS:
        bind.execute(statement, {"ids": ids})
    top = bind.scalar(_RECENT_TOP) or 0
    newest = new_ids[-1]
    recent = [i for i in new_ids if i > top and i > newest - RECENT]
    if recent:
        bind.execute(_FILL_RECENT, {"ids": json.dumps(recent)})
    bind.execute(_TRIM_RECENT, {"oldest": newest - RECENT})
    if any(i % RECENT_OPTIMIZE_EVERY == 0 for i in new_ids):
        bind.execute(_OPTIMIZE_RECENT)


@dataclass(frozen=True, slots=True)
class Indexed:
    """What the vocabulary tables count of one paper: its distinct vocabulary words and
    their distinct families, each set joined by spaces (one string is made and counted
    faster than a set of a hundred), and its acronym definitions."""

    words: str
    families: str
    # (acronym, long form as families joined by spaces)
    definitions: frozenset[tuple[str, str]]

    def counted(self, field: str) -> Collection[Any]:
        """The distinct words, families or definitions (field names as in _COUNTED)."""
        value: str | frozenset[tuple[str, str]] = getattr(self, field)
        return value.split() if isinstance(value, str) else value


def analyse(title: str, abstract: str) -> tuple[Terms, Indexed]:
    """A paper's analysed texts and what the vocabulary counts of it, reading each text once
    (the same as terms_row and vocabulary_words give)."""
    title_words, abstract_words = words(title), words(abstract)
    title_exact, title_family = _keys(title_words)
    abstract_exact, abstract_family = _keys(abstract_words)
    found = list(filter(_IN_VOCABULARY.__getitem__, {*title_words, *abstract_words}))
    counted = Indexed(
        " ".join(found),
        " ".join({_KEYS[word][1] for word in found}),
        frozenset(
            (acronym, " ".join(long_form))
            for text_ in (title, abstract)
            for acronym, long_form in definitions(text_)
        ),
    )
    return (title_exact, abstract_exact, title_family, abstract_family), counted


def indexed(title: str, abstract: str) -> Indexed:
    return analyse(title, abstract)[1]


_COUNTED = (
    (SearchWordRow, ("word",), "words"),
    (SearchFamilyRow, ("family",), "families"),
    (SearchAcronymRow, ("acronym", "long_form"), "definitions"),
)


def _upsert_counts(
    session: Session, table: type[Base], keys: Sequence[str], changes: Counter[Any]
) -> None:
    rows = [
        (*(key if isinstance(key, tuple) else (key,)), n) for key, n in sorted(changes.items()) if n
    ]
    if not rows:
        return
    connection = session.connection()
    placeholder = "?" if connection.dialect.name == "sqlite" else "%s"
    # To the driver itself: SQLAlchemy's per-row parameter handling would take longer than
    # the upsert, which both databases speak.
    connection.exec_driver_sql(_upsert_counts_sql(table.__tablename__, keys, placeholder), rows)
    if any(n < 0 for n in changes.values()):
        session.execute(delete(table).where(table.__table__.c.papers <= 0))


@cache
def _upsert_counts_sql(table: str, keys: tuple[str, ...], placeholder: str) -> str:
    values = ", ".join([placeholder] * (len(keys) + 1))
    return (
        f"INSERT INTO {table} ({', '.join(keys)}, papers) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET papers = {table}.papers + excluded.papers"
    )


def update_vocabulary(session: Session, changes: Sequence[tuple[Indexed | None, Indexed]]) -> None:
    """Count the papers of each word, family and acronym definition: one (before, after)
    per paper stored or changed (None before for a new paper).

    Counted in memory, then one statement per table for the whole batch.
    """
    for table, keys, field in _COUNTED:
        counts: Counter[Any] = Counter()
        for before, after in changes:
            if before is None:
                counts.update(after.counted(field))
                continue
            new, old = set(after.counted(field)), set(before.counted(field))
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
        analysed = [(i, *analyse(title, abstract)) for i, title, abstract in papers]
        write_terms(session, [(i, *terms) for i, terms, _ in analysed])
        update_vocabulary(session, [(None, counted) for _, _, counted in analysed])
        last = papers[-1][0]
