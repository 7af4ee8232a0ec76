"""The papers a keyword could match, found through the full-text indexes, and the stored
papers read in batches: what `paperboy preview` matches keywords against, so that it never
holds the whole library in memory.

A keyword is given as patterns of word families (bot/analysis.py's keys, letters and
digits only): each pattern a phrase whose words each have one of a few keys. A paper is a
candidate if its title's or abstract's families hold one of the phrases, as the indexes
read them (storage/search_index.py); bot/matching.py then decides on each candidate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise, product
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    TextClause,
    and_,
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


_PAPERS = PaperRow.__table__
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


def _read(wanted: Wanted, where: ColumnElement[bool] | TextClause) -> Select[Any]:
    # In this order: what orders papers, then the lists, then the texts.
    query = select(_PAPERS.c.id, _PAPERS.c.first_seen_at, _PAPERS.c.upvotes)
    if wanted.lists:
        query = query.add_columns(_PAPERS.c.authors, _PAPERS.c.categories)
    if wanted.texts:
        query = query.add_columns(
            _PAPERS.c.title,
            _PAPERS.c.abstract,
            _FAMILIES.c.title_family,
            _FAMILIES.c.abstract_family,
        ).outerjoin(_FAMILIES, _FAMILIES.c.id == _PAPERS.c.id)
    return query.where(where)


def _stored(rows: Iterable[Sequence[Any]], wanted: Wanted) -> list[Stored]:
    found = []
    for row in rows:
        id_, first_seen_at, upvotes, *rest = row
        authors, categories = (tuple(rest[0]), tuple(rest[1])) if wanted.lists else ((), ())
        title, abstract, title_family, abstract_family = rest[-4:] if wanted.texts else _NO_TEXTS
        paper = Paper(
            title=title,
            abstract=abstract,
            upvotes=upvotes,
            authors=authors,
            categories=categories,
        )
        if title_family is None or abstract_family is None:
            found.append(Stored(id_, first_seen_at, paper, None))
        else:
            found.append(Stored(id_, first_seen_at, paper, (title_family, abstract_family)))
    return found


_NO_TEXTS = ("", "", None, None)
# The ids of a batch travel as one parameter, not one each: binding thousands of parameters
# costs more than reading their rows.
_SQLITE_AMONG = text("papers.id IN (SELECT value FROM json_each(:ids))")
_PG_AMONG = text("papers.id = ANY(CAST(:ids AS integer[]))")


def _among(session: Session, ids: Sequence[int]) -> tuple[TextClause, dict[str, object]]:
    """The condition that a paper is one of these, and its parameter."""
    if session.get_bind().dialect.name == "sqlite":
        return _SQLITE_AMONG, {"ids": json.dumps(list(ids))}
    return _PG_AMONG, {"ids": list(ids)}


def papers_among(session: Session, ids: Sequence[int], wanted: Wanted = Wanted()) -> list[Stored]:
    """The papers with these ids (a batch's worth), in no particular order, as matching
    reads them."""
    where, params = _among(session, ids)
    return _stored(session.connection().execute(_read(wanted, where), params).all(), wanted)


_LISTED = (
    _PAPERS.c.id,
    _PAPERS.c.title,
    _PAPERS.c.arxiv_id,
    _PAPERS.c.project_url,
    _PAPERS.c.code_url,
)


def listed(session: Session, ids: Sequence[int], lists: bool) -> dict[int, Paper]:
    """The papers with these ids (a batch's worth) by id, with what a listing of them shows:
    the title and what makes the link, and if `lists` the authors and categories."""
    where, params = _among(session, ids)
    query: Select[Any] = select(*_LISTED).where(where)
    if lists:
        query = query.add_columns(_PAPERS.c.authors, _PAPERS.c.categories)
    found = {}
    for row in session.connection().execute(query, params).all():
        found[row[0]] = Paper(
            title=row[1],
            arxiv_id=row[2],
            project_url=row[3],
            code_url=row[4],
            authors=tuple(row[5]) if lists else (),
            categories=tuple(row[6]) if lists else (),
        )
    return found


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PaperRow)) or 0


_AFTER = bindparam("after", type_=Integer)


# A category code that a LIKE pattern holds as it is: no wildcard, no escape, no case but
# ASCII's (which is all that LIKE folds).
_PLAIN_CODE = re.compile(r"[a-z0-9.-]+")
# The stored lists of categories that a case-folding of their codes could make plain
# ones: any character beyond printable ASCII, or an escape of JSON's.
_SQLITE_ODD = "papers.categories GLOB '*[^ -~]*' OR instr(papers.categories, char(92)) > 0"
# Read in the "C" collation: a database's own may lower "I" to a dotless i (Turkish), where
# categories.within lowers ASCII as ASCII.
_PG_LISTED = 'CAST(papers.categories AS text) COLLATE "C"'
_PG_ODD = f"{_PG_LISTED} ~ '[^ -~]' OR strpos({_PG_LISTED}, chr(92)) > 0"


def _in_categories(session: Session, prefixes: Collection[str]) -> TextClause | None:
    """A condition that every paper with a category (case-folded) starting with one of
    the prefixes meets, read from the stored JSON list, and few others; None if it cannot
    be told in SQL."""
    if not prefixes or not all(_PLAIN_CODE.fullmatch(prefix) for prefix in prefixes):
        return None
    sqlite_ = session.get_bind().dialect.name == "sqlite"
    listed = "papers.categories" if sqlite_ else _PG_LISTED
    names = [f"category_{n}" for n in range(len(prefixes))]
    condition = " OR ".join(
        [*(f"lower({listed}) LIKE :{name}" for name in names), _SQLITE_ODD if sqlite_ else _PG_ODD]
    )
    # Each code of the list starts after a quote: ["cs.LG", "cs.RO"].
    values = {name: f'%"{prefix}%' for name, prefix in zip(names, sorted(prefixes), strict=True)}
    return text(f"({condition})").bindparams(**values)


def every_paper(
    session: Session,
    batch: int,
    wanted: Wanted = Wanted(),
    categories: Collection[str] | None = None,
) -> Iterator[list[Stored]]:
    """Every stored paper, `batch` at a time by id: only one batch is in memory at once.
    With `categories`, case-folded prefixes, those whose categories may start with one of
    them: every paper with one that does (the matcher decides), and few others."""
    after = 0
    where: ColumnElement[bool] = _PAPERS.c.id > _AFTER
    in_categories = _in_categories(session, categories) if categories is not None else None
    if in_categories is not None:
        where = and_(where, in_categories)
    query = _read(wanted, where).order_by(_PAPERS.c.id).limit(batch)
    connection = session.connection()
    while found := _stored(connection.execute(query, {"after": after}).all(), wanted):
        yield found
        after = found[-1].id
