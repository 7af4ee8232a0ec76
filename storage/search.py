"""Full-text search over titles and abstracts, and the vocabulary that corrects typos.

The backend interface (`SearchBackend`) takes parsed terms, never raw user text, so the
query syntax of the database can only ever be written here, from quoted words. SQLite's
implementation uses FTS5; PostgreSQL can fill the same interface with a tsvector column
and a GIN index later.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Protocol

from sqlalchemy import ColumnElement, TextClause, and_, bindparam, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import COMMON_PAPERS, SearchWordRow

# Matched words in a snippet sit between these two characters, which never occur in text a
# person typed, so a presenter can escape the text first and then turn them into markup.
MARK_START = "\x02"
MARK_END = "\x03"

# The FTS5 index of every paper, and the index of the newest papers only (see Fts5Search).
FTS_INDEX = "papers_fts"
RECENT_INDEX = "papers_fts_recent"

# Ranking scores at most this many matches: the newest ones (see Fts5Search).
WINDOW = 2000
# With this many matches among the newest papers, ranking looks no further back.
RECENT_ENOUGH = 20
# A title hit counts this many times an abstract hit.
TITLE_WEIGHT = 5.0
SNIPPET_TOKENS = 24
# The last word of a query also matches up to this many longer words that begin with it.
PREFIX_COMPLETIONS = 8


def is_fts_table(name: str) -> bool:
    """The FTS5 indexes and their shadow tables, which the models do not describe."""
    return name.startswith(FTS_INDEX)


class SearchUnavailable(Exception):
    """This database has no search backend yet."""


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must all appear, next to each other and in this order (or a single word)."""

    words: tuple[str, ...]
    # The (single) word may also be the beginning of a longer word: "transf" -> transformer.
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Hit:
    title: str
    arxiv_id: str | None
    code_url: str | None
    project_url: str | None
    published: date | None
    featured_on: date | None
    # An excerpt of the abstract; matched words sit between MARK_START and MARK_END.
    snippet: str


@dataclass(frozen=True, slots=True)
class HitPage:
    hits: tuple[Hit, ...]
    # The matches that were ranked (at most WINDOW); `capped`: more papers may match, newer
    # ones beyond WINDOW or older ones than the recent papers ranked (see Fts5Search).
    matches: int
    capped: bool


class SearchBackend(Protocol):
    def search(
        self, session: Session, terms: Sequence[Term], *, limit: int, offset: int
    ) -> HitPage:
        """The best matches for papers containing every term, `limit` from `offset` on."""
        ...


def backend_for(session: Session) -> SearchBackend:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return Fts5Search()
    raise SearchUnavailable(f"search is not available on {dialect} yet")


def _quoted(words: Sequence[str]) -> str:
    # Inside an FTS5 string only '"' is special, and doubling it escapes it; words never
    # hold one, but the escape keeps that true whatever a caller passes.
    return '"' + " ".join(words).replace('"', '""') + '"'


def _match_term(term: Term, completions: Sequence[str]) -> str:
    if not completions:
        return _quoted(term.words)
    alternatives = dict.fromkeys([term.words[0], *completions])
    return "(" + " OR ".join(_quoted([word]) for word in alternatives) + ")"


# Explicit ANDs: FTS5 refuses an implicit AND next to a parenthesised OR group.
def _match(expressions: Sequence[str]) -> str:
    return " AND ".join(expressions)


# The newest WINDOW matches from id `floor` on: how many, and the oldest one's id.
_WINDOW_SQL = text(
    f"SELECT count(*), min(rowid) FROM (SELECT rowid FROM {FTS_INDEX} "
    f"WHERE {FTS_INDEX} MATCH :query AND rowid >= :floor ORDER BY rowid DESC LIMIT :window)"
)
_RECENT_FLOOR_SQL = text(f"SELECT min(id) FROM {RECENT_INDEX}_docsize")
_OLDEST_SQL = text("SELECT min(id) FROM papers")
_NEWEST_SQL = text(
    f"SELECT rowid FROM {FTS_INDEX} WHERE {FTS_INDEX} MATCH :query "
    "ORDER BY rowid DESC LIMIT :window"
)


@cache
def _ranked_sql(index: str, filtered: bool) -> TextClause:
    # `filtered`: the ranking expression leaves out common terms, so the rows must also be
    # among the newest matches of the whole query, whose ids are given.
    # "+rowid": as an index constraint, the IN list would run the MATCH once per id.
    among = "AND +rowid IN :ids " if filtered else ""
    statement = text(
        f"SELECT rowid FROM {index} WHERE {index} MATCH :rank_query AND rowid >= :cut "
        f"{among}ORDER BY bm25({index}, {TITLE_WEIGHT}, 1.0), rowid DESC "
        "LIMIT :limit OFFSET :offset"
    )
    return statement.bindparams(bindparam("ids", expanding=True)) if filtered else statement


_HITS_SQL = text(
    f"SELECT p.id, p.title, p.arxiv_id, p.code_url, p.project_url, p.published, "
    f"p.featured_on, snippet({FTS_INDEX}, 1, char(2), char(3), '…', {SNIPPET_TOKENS}) "
    f"FROM {FTS_INDEX} JOIN papers AS p ON p.id = {FTS_INDEX}.rowid "
    f"WHERE {FTS_INDEX} MATCH :query AND {FTS_INDEX}.rowid BETWEEN :low AND :high "
    f"AND +{FTS_INDEX}.rowid IN :ids"
).bindparams(bindparam("ids", expanding=True))


class Fts5Search:
    """SQLite FTS5, ranked by bm25 with title words weighted over abstract words.

    The work per query is bounded, so that it costs about the same at 10,000 papers as at a
    million (bench/search.py measures it):

    - Only the newest WINDOW matches are ranked: FTS5 walks its index newest first and
      stops there. For a common query the results are the best of the recent matches, not
      of all of them.
    - bm25 needs each query word's number of papers, and FTS5 counts them by reading the
      word's whole posting list: linear in the library for a common word. So a query with
      RECENT_ENOUGH matches or more among the newest papers ranks only those, on a second
      index that holds just the newest papers (50,000; see the migration). A rarer query
      ranks its newest WINDOW matches on the whole index, but leaves out of the scoring the
      terms that are common (WINDOW papers or more among the newest): bm25 gives them
      almost no weight anyway, and counting them is what is slow. If every term is common
      (a rare mix of common words), the matches are listed newest first.
    - A prefix is expanded to the PREFIX_COMPLETIONS most used words that begin with it:
      FTS5 would merge the posting lists of every such word, again linear in the library.
    """

    def search(
        self, session: Session, terms: Sequence[Term], *, limit: int, offset: int
    ) -> HitPage:
        expressions = [self._expression(session, term) for term in terms]
        query = _match(expressions)
        floor = session.scalar(_RECENT_FLOOR_SQL)
        if floor is None:  # no papers
            return HitPage((), 0, capped=False)
        page = {"limit": limit, "offset": offset}
        recent, cut = self._window(session, query, floor)
        # Whether the library goes back further than the recent index.
        older = floor > (session.scalar(_OLDEST_SQL) or floor)
        if recent >= RECENT_ENOUGH or (recent and not older):
            ranked = _ranked_sql(RECENT_INDEX, filtered=False)
            ids = session.scalars(ranked, {**page, "rank_query": query, "cut": cut}).all()
            capped = recent >= WINDOW or older
            return HitPage(self._hits(session, query, ids), recent, capped)
        if not older:
            return HitPage((), 0, capped=False)
        window = session.scalars(_NEWEST_SQL, {"query": query, "window": WINDOW}).all()
        if not window:
            return HitPage((), 0, capped=False)
        scored = [
            expression
            for term, expression in zip(terms, expressions, strict=True)
            if not self._common(session, term, expression, floor)
        ]
        if scored:
            ranked = _ranked_sql(FTS_INDEX, filtered=len(scored) < len(expressions))
            params = {**page, "rank_query": _match(scored), "cut": window[-1], "ids": window}
            ids = session.scalars(ranked, params).all()
        else:
            ids = window[offset : offset + limit]
        return HitPage(self._hits(session, query, ids), len(window), len(window) >= WINDOW)

    @staticmethod
    def _expression(session: Session, term: Term) -> str:
        if not term.prefix:
            return _match_term(term, ())
        return _match_term(term, words_starting_with(session, term.words[0], PREFIX_COMPLETIONS))

    @staticmethod
    def _window(session: Session, expression: str, floor: int) -> tuple[int, int]:
        """How many of the newest WINDOW matches have an id from `floor` on, and the oldest id."""
        params = {"query": expression, "floor": floor, "window": WINDOW}
        found, oldest = session.execute(_WINDOW_SQL, params).one()
        return found, oldest or 0

    def _common(self, session: Session, term: Term, expression: str, floor: int) -> bool:
        """Whether the term has a full WINDOW of matches among the recent papers."""
        # A phrase costs what its rarest word does: FTS5 seeks along that word's postings.
        expressions = [expression] if term.prefix else [_quoted([word]) for word in term.words]
        return all(self._window(session, e, floor)[0] >= WINDOW for e in expressions)

    @staticmethod
    def _hits(session: Session, query: str, ids: Sequence[int]) -> tuple[Hit, ...]:
        if not ids:
            return ()
        # FTS5 reads only the id range, once ("+" keeps it from re-running the MATCH per id).
        rows = session.execute(
            _HITS_SQL, {"query": query, "low": min(ids), "high": max(ids), "ids": list(ids)}
        )
        by_id = {
            row[0]: Hit(
                title=row[1],
                arxiv_id=row[2],
                code_url=row[3],
                project_url=row[4],
                published=_date(row[5]),
                featured_on=_date(row[6]),
                snippet=row[7] or "",
            )
            for row in rows
        }
        return tuple(by_id[paper_id] for paper_id in ids if paper_id in by_id)


def _date(value: object) -> date | None:
    # Text SQL hands back SQLite's stored ISO strings, not the model's date objects.
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def known_words(session: Session, words: Collection[str]) -> set[str]:
    """The words that are in the vocabulary."""
    if not words:
        return set()
    query = select(SearchWordRow.word).where(SearchWordRow.word.in_(sorted(words)))
    return set(session.scalars(query))


def _starting_with(prefix: str) -> ColumnElement[bool]:
    # A key range, so an index finds the words; the largest code point closes the range.
    return and_(SearchWordRow.word >= prefix, SearchWordRow.word < prefix + "\U0010ffff")


def words_starting_with(session: Session, prefix: str, limit: int) -> list[str]:
    """Vocabulary words beginning with `prefix` (itself included): the `limit` most used of
    those in several papers, or else the first few of those in one paper."""
    common = (
        select(SearchWordRow.word)
        .where(_starting_with(prefix), SearchWordRow.papers >= COMMON_PAPERS)
        .order_by(SearchWordRow.papers.desc(), SearchWordRow.word)
        .limit(limit)
    )
    # The rare words are the long tail (names, typos), too many to sort for every prefix.
    rare = select(SearchWordRow.word).where(_starting_with(prefix)).limit(limit)
    return list(session.scalars(common)) or list(session.scalars(rare))


def similar_words(session: Session, word: str, max_distance: int) -> list[tuple[str, int]]:
    """Words of several papers that could be `word` with up to `max_distance` typos, with
    their numbers of papers.

    A rough cut for the caller's edit-distance check: same first letter (typos there are
    rare) and a length within `max_distance`. Words of a single paper are left out: they
    are the long tail of the vocabulary (names, and typos themselves), poor corrections
    and the bulk of a large library's words.
    """
    query = select(SearchWordRow.word, SearchWordRow.papers).where(
        _starting_with(word[0]),
        SearchWordRow.papers >= COMMON_PAPERS,
        func.length(SearchWordRow.word).between(len(word) - max_distance, len(word) + max_distance),
    )
    return [(row.word, row.papers) for row in session.execute(query)]


def update_vocabulary(session: Session, changes: Mapping[str, int]) -> None:
    """Add to each word's count of papers: +1 per paper that gained it, -1 per one that lost it.

    One statement for the whole batch, an upsert that SQLite and PostgreSQL both speak.
    """
    rows = [{"word": word, "papers": n} for word, n in sorted(changes.items()) if n]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = SearchWordRow.__table__
    insert = dialect.insert(table)
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.word], set_={"papers": table.c.papers + insert.excluded.papers}
    )
    # On the connection, not the session: the ORM's per-row bookkeeping doubles the time.
    session.connection().execute(upsert, rows)
    if any(n < 0 for n in changes.values()):
        session.execute(delete(SearchWordRow).where(SearchWordRow.papers <= 0))
