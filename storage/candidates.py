"""The papers a keyword could match, found through the full-text indexes, and the stored
papers read in batches: what `paperboy preview` matches keywords against, so that it never
holds the whole library in memory.

A keyword is given as patterns of word families (bot/analysis.py's keys, letters and
digits only): each pattern a phrase whose words each have one of a few keys. A paper is a
candidate if its title's or abstract's families hold one of the phrases, as the indexes
read them (storage/search_index.py); bot/matching.py then decides on each candidate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise, product
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    column,
    func,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from bot.records import Paper
from storage.models import PaperRow
from storage.queries import in_chunks
from storage.search import FTS_INDEX, backend_for, fts5_quoted
from storage.search_index import TERMS_TABLE

# A pattern whose words have more combinations of keys than this is looked for as its
# words anywhere in a text rather than as each phrase: more candidates, a shorter query.
MAX_PHRASES = 64
# Where a key is looked for: the word families of the title and of the abstract.
_FTS5_FAMILIES = "{title_family abstract_family}"
_PG_FAMILIES = "CD"  # the weight labels of those texts in the tsvector (migration 0006)

Pattern = Sequence[frozenset[str]]


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored paper as read in a batch, with what orders papers newest first and its
    title's and abstract's word families as the index holds them (None if it is not
    indexed)."""

    id: int
    first_seen_at: datetime
    paper: Paper
    families: tuple[str, str] | None


def _phrases(pattern: Pattern) -> list[tuple[str, ...]] | None:
    """Each phrase of the pattern, or None if there are too many of them."""
    count = 1
    for keys in pattern:
        count *= len(keys)
    if count > MAX_PHRASES:
        return None
    return list(product(*map(sorted, pattern)))


def _fts5_pattern(pattern: Pattern) -> str:
    phrases = _phrases(pattern)
    if phrases is not None:
        found = " OR ".join(fts5_quoted(phrase) for phrase in phrases)
    else:  # each word somewhere: a superset of the phrases
        found = " AND ".join(
            "(" + " OR ".join(fts5_quoted([key]) for key in sorted(keys)) + ")" for keys in pattern
        )
    return f"{_FTS5_FAMILIES} : ({found})"


def _pg_pattern(pattern: Pattern, n: int) -> tuple[str, str, dict[str, list[str]]]:
    """The pattern as a condition on the GIN index's keys (migration 0005: words and pairs of
    adjacent words) with its parameters, and as a tsquery that checks it on the candidates."""
    phrases = _phrases(pattern)
    if phrases is not None:
        keys = [sorted({*phrase, *(f"{a} {b}" for a, b in pairwise(phrase))}) for phrase in phrases]
        tsquery = " | ".join(
            "(" + " <-> ".join(f"'{key}':{_PG_FAMILIES}" for key in phrase) + ")"
            for phrase in phrases
        )
    else:
        keys = [sorted(set().union(*pattern))]
        tsquery = " & ".join(
            "(" + " | ".join(f"'{key}':{_PG_FAMILIES}" for key in sorted(alts)) + ")"
            for alts in pattern
        )
        # Every word of the pattern, each one of its keys: the index holds any of them.
        names = [f"any_{n}_{i}" for i in range(len(pattern))]
        condition = " AND ".join(
            f"papers_fts_keys(document) && CAST(:{name} AS text[])" for name in names
        )
        values = {name: sorted(alts) for name, alts in zip(names, pattern, strict=True)}
        return f"({condition})", f"({tsquery})", values
    names = [f"all_{n}_{i}" for i in range(len(keys))]
    condition = " OR ".join(
        f"papers_fts_keys(document) @> CAST(:{name} AS text[])" for name in names
    )
    return f"({condition})", f"({tsquery})", dict(zip(names, keys, strict=True))


def matching_ids(session: Session, patterns: Sequence[Pattern]) -> list[int]:
    """The ids of the papers whose title or abstract holds one of the patterns, ascending."""
    patterns = [pattern for pattern in patterns if pattern and all(pattern)]
    if not patterns:
        return []
    backend_for(session)  # SearchUnavailable on a database without full-text search
    if session.get_bind().dialect.name == "sqlite":
        query = " OR ".join(f"({_fts5_pattern(pattern)})" for pattern in patterns)
        statement = text(f"SELECT rowid FROM {FTS_INDEX} WHERE {FTS_INDEX} MATCH :query")
        return sorted(session.scalars(statement, {"query": query}))
    conditions, tsqueries, params = [], [], {}
    for n, pattern in enumerate(patterns):
        condition, tsquery, values = _pg_pattern(pattern, n)
        conditions.append(condition)
        tsqueries.append(tsquery)
        params.update(values)
    statement = text(
        f"SELECT id FROM {FTS_INDEX} WHERE ({' OR '.join(conditions)}) "
        "AND document @@ CAST(:query AS tsquery) ORDER BY id"
    )
    return list(session.scalars(statement, {**params, "query": " | ".join(tsqueries)}))


_FAMILIES = table(
    TERMS_TABLE,
    column("id", Integer),
    column("title_family", String),
    column("abstract_family", String),
)


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a batch's papers are read with, beside what orders them: plain rows of these
    columns only (an ORM object and a JSON list decoded per paper cost more than matching
    it), and the fields not read left empty."""

    texts: bool = True  # the title and abstract, and their word families
    lists: bool = True  # the authors and categories, which filters read


def _stored(query: Select[Any], session: Session, wanted: Wanted) -> list[Stored]:
    found = []
    for row in session.execute(query):
        paper = Paper(
            title=row.title if wanted.texts else "",
            abstract=row.abstract if wanted.texts else "",
            upvotes=row.upvotes,
            authors=tuple(row.authors) if wanted.lists else (),
            categories=tuple(row.categories) if wanted.lists else (),
        )
        title, abstract = (row.title_family, row.abstract_family) if wanted.texts else (None, None)
        families = (title, abstract) if title is not None and abstract is not None else None
        found.append(Stored(row.id, row.first_seen_at, paper, families))
    return found


def _read(wanted: Wanted, where: ColumnElement[bool]) -> Select[Any]:
    columns: list[Any] = [PaperRow.id, PaperRow.first_seen_at, PaperRow.upvotes]
    if wanted.lists:
        columns += [PaperRow.authors, PaperRow.categories]
    query = select(*columns)
    if wanted.texts:
        query = query.add_columns(
            PaperRow.title, PaperRow.abstract, _FAMILIES.c.title_family, _FAMILIES.c.abstract_family
        ).outerjoin(_FAMILIES, _FAMILIES.c.id == PaperRow.id)
    return query.where(where)


def papers_among(session: Session, ids: Sequence[int], wanted: Wanted = Wanted()) -> list[Stored]:
    """The papers with these ids (a batch's worth), in no particular order, as matching
    reads them."""
    return [
        found
        for chunk in in_chunks(ids)
        for found in _stored(_read(wanted, PaperRow.id.in_(chunk)), session, wanted)
    ]


def listed(session: Session, ids: Sequence[int]) -> dict[int, Paper]:
    """The papers with these ids (a batch's worth) by id, with what a listing of them shows:
    the title, what makes the link, the authors and categories; no abstract."""
    columns = (PaperRow.id, PaperRow.title, PaperRow.arxiv_id, PaperRow.project_url)
    query = select(*columns, PaperRow.code_url, PaperRow.authors, PaperRow.categories)
    return {
        row.id: Paper(
            title=row.title,
            arxiv_id=row.arxiv_id,
            project_url=row.project_url,
            code_url=row.code_url,
            authors=tuple(row.authors),
            categories=tuple(row.categories),
        )
        for chunk in in_chunks(ids)
        for row in session.execute(query.where(PaperRow.id.in_(chunk)))
    }


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PaperRow)) or 0


_AFTER = bindparam("after", type_=Integer)


def every_paper(session: Session, batch: int, wanted: Wanted = Wanted()) -> Iterator[list[Stored]]:
    """Every stored paper, `batch` at a time by id: only one batch is in memory at once."""
    after = 0
    query = _read(wanted, PaperRow.id > _AFTER).order_by(PaperRow.id).limit(batch)
    while found := _stored(query.params(after=after), session, wanted):
        yield found
        after = found[-1].id
