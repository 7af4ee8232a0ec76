"""Full-text search over titles and abstracts, and the vocabulary that corrects typos.

The backend interface (`SearchBackend`) takes parsed terms, never raw user text, so the
query syntax of the database can only ever be written here, from quoted words. SQLite's
implementation uses FTS5 (migration 0002); PostgreSQL's a tsvector per paper with a GIN
index (migration 0005).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, reduce
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Text,
    TextClause,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import REGCONFIG, TSQUERY
from sqlalchemy.orm import Session

from storage.models import COMMON_PAPERS, PaperRow, SearchWordRow

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
    if dialect == "postgresql":
        return PostgresSearch()
    raise SearchUnavailable(f"search is not available on {dialect}")


def _quoted(words: Sequence[str]) -> str:
    # Inside an FTS5 string only '"' is special, and doubling it escapes it; words never
    # hold one, but the escape keeps that true whatever a caller passes.
    return '"' + " ".join(words).replace('"', '""') + '"'


def _completions(session: Session, term: Term) -> list[str]:
    """The words a prefix term may also stand for: the most used ones that begin with it.

    Not the databases' own prefix queries: those merge the postings of every word with the
    prefix (linear in the library), and PostgreSQL's would compare the prefix with stems,
    which can be shorter than it ("generati" is no prefix of the stem "generat")."""
    if not term.prefix:
        return []
    return words_starting_with(session, term.words[0], PREFIX_COMPLETIONS)


def _alternatives(term: Term, completions: Sequence[str]) -> list[tuple[str, ...]]:
    """The phrases of which a paper must contain one: the term's, or a word of a prefix."""
    if not completions:
        return [term.words]
    return [(word,) for word in dict.fromkeys([term.words[0], *completions])]


def _match_term(term: Term, completions: Sequence[str]) -> str:
    alternatives = _alternatives(term, completions)
    if len(alternatives) == 1:
        return _quoted(alternatives[0])
    return "(" + " OR ".join(_quoted(words) for words in alternatives) + ")"


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
        return _match_term(term, _completions(session, term))

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
        return _in_order(ids, {row[0]: _hit(row, row[7] or "") for row in rows})


def _hit(row: Sequence[Any], snippet: str) -> Hit:
    """A result from a row of (id, title, arxiv_id, code_url, project_url, published,
    featured_on, ...), as both backends select them."""
    return Hit(
        title=row[1],
        arxiv_id=row[2],
        code_url=row[3],
        project_url=row[4],
        published=_date(row[5]),
        featured_on=_date(row[6]),
        snippet=snippet,
    )


def _in_order(ids: Sequence[int], by_id: Mapping[int, Hit]) -> tuple[Hit, ...]:
    return tuple(by_id[paper_id] for paper_id in ids if paper_id in by_id)


def _date(value: object) -> date | None:
    # Text SQL hands back SQLite's stored ISO strings, not the model's date objects.
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


# PostgreSQL (migration 0005): papers_fts holds each paper's tsvector; it is also the name
# of the text search configuration (Porter stemming, no stop words). papers_fts_words and
# papers_fts_fold are the SQL functions that prepare a text for it, papers and queries alike.
PG_CONFIG = cast(literal(FTS_INDEX), REGCONFIG)
# ts_rank's weights of the labels D, C, B and A: title words are A, abstract words B.
_RANK_WEIGHTS = [0.0, 0.0, 1 / TITLE_WEIGHT, 1.0]
# One excerpt of SNIPPET_TOKENS words around the matches, like FTS5's snippet(). MinWords
# sizes the excerpt of an abstract without any of the words (the title matched).
_HEADLINE_OPTIONS = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=1, "
    f"MaxWords={SNIPPET_TOKENS}, MinWords={SNIPPET_TOKENS - 1}, ShortWord=0"
)
# PostgreSQL looks for the newest matches in spans of ids, newest first: the first holds
# FIRST_SPAN papers, each next one SPAN_GROWTH times more (see PostgresSearch).
FIRST_SPAN = 2 * WINDOW
SPAN_GROWTH = 4


@cache
def _span_sql(required: bool, any_of: int) -> TextClause:
    """The newest papers in a span of ids whose keys (see migration 0005) include all the
    `required` ones and, for each of `any_of` lists, one of its keys."""
    keys = "papers_fts_keys(document)"
    having = [f"{keys} @> CAST(:required AS text[])"] if required else []
    having += [f"{keys} && CAST(:any_{n} AS text[])" for n in range(any_of)]
    # MATERIALIZED: all the candidates of the span, as the index lists them, then the newest.
    # With ORDER BY and LIMIT on the table itself the planner may walk the span newest first
    # instead, computing each paper's keys until it has enough, which costs far more.
    return text(
        f"WITH span AS MATERIALIZED (SELECT id FROM {FTS_INDEX} WHERE {' AND '.join(having)} "
        "AND id >= :low AND id < :high) SELECT id FROM span ORDER BY id DESC LIMIT :needed"
    )


_PG_IDS_SQL = text(f"SELECT min(id), max(id) FROM {FTS_INDEX}")
# Of the candidates, those that match the query exactly (a phrase of three words or more
# needs its pairs in a row), how many they are, and a page of them ranked.
_PG_PAGE_SQL = text(
    f"WITH matches AS (SELECT id, document FROM {FTS_INDEX} "
    "WHERE id = ANY(:ids) AND document @@ CAST(:query AS tsquery)) "
    "SELECT (SELECT count(*) FROM matches), ARRAY(SELECT id FROM matches "
    "ORDER BY ts_rank(CAST(:weights AS real[]), document, CAST(:query AS tsquery)) DESC, "
    "id DESC LIMIT :limit OFFSET :offset)"
)


def _keys(words: Sequence[str]) -> ColumnElement[Any]:
    """The index keys of a text: its words' stems and its pairs of adjacent ones."""
    document = func.to_tsvector(PG_CONFIG, func.papers_fts_words(" ".join(words)))
    return func.papers_fts_keys(document)


def _all_of(queries: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    return reduce(lambda a, b: a.op("&&")(b), queries)


def _all_keys(arrays: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    return reduce(lambda a, b: a.op("||")(b), arrays)


def _key_filter(
    alternatives: Sequence[Sequence[Sequence[str]]], keys: Sequence[Sequence[str]]
) -> tuple[list[str], list[list[str]]]:
    """The keys every match has, and lists of keys of which it has one: a term of a single
    phrase needs all its keys, one of several (a word and its completions) one of theirs."""
    required: set[str] = set()
    any_of: list[list[str]] = []
    for phrases, some in zip(alternatives, keys, strict=True):
        if len(phrases) == 1:
            required.update(some)
        elif some:
            any_of.append(list(some))
    return sorted(required), any_of


class PostgresSearch:
    """PostgreSQL full-text search: a tsvector per paper, a GIN index, ranked by ts_rank.

    Papers and queries go through the same SQL functions (folded, split into the words of
    storage/words.py, stemmed), and every word of the query reaches the database as a bound
    parameter of a function that reads plain text: no query syntax can come in.

    As with FTS5 only the newest WINDOW matches are ranked. ts_rank scores a paper from its
    own words alone, with no count across the library as bm25 needs, so ranking costs the
    same in any library. Finding the matches is the part to bound, as reading papers is
    what costs, and a GIN index lists them in no order, and cannot be read backwards:

    - The index lists each paper by its words and pairs of adjacent words (migration
      0005), so that it alone finds the papers with the query's words and phrases; only
      those candidates are read, to check a phrase of three words or more and to rank.
    - The candidates are looked for in spans of ids, newest first, each SPAN_GROWTH times
      longer than the last, until WINDOW are found: a common query stops in the first
      spans, a rare one has few matches to read in any span.
    """

    def search(
        self, session: Session, terms: Sequence[Term], *, limit: int, offset: int
    ) -> HitPage:
        alternatives = [_alternatives(term, _completions(session, term)) for term in terms]
        # Built by the database once, and passed on as constants: the planner then knows how
        # common the keys are (a parameter to a function would hide that from it).
        query, *keys = session.execute(
            select(
                cast(_all_of([self._tsquery(phrases) for phrases in alternatives]), Text),
                *(_all_keys([_keys(words) for words in phrases]) for phrases in alternatives),
            )
        ).one()
        if not query:  # no word that the parser keeps
            return HitPage((), 0, capped=False)
        required, any_of = _key_filter(alternatives, keys)
        candidates = self._window(session, required, any_of)
        params = {
            "query": query,
            "ids": candidates,
            "weights": _RANK_WEIGHTS,
            "limit": limit,
            "offset": offset,
        }
        matches, ids = session.execute(_PG_PAGE_SQL, params).one()
        return HitPage(self._hits(session, query, ids), matches, len(candidates) >= WINDOW)

    @staticmethod
    def _window(
        session: Session, required: Sequence[str], any_of: Sequence[Sequence[str]]
    ) -> list[int]:
        """The newest WINDOW papers (all of them, if fewer) with the keys, newest first."""
        oldest, newest = session.execute(_PG_IDS_SQL).one()
        found: list[int] = []
        if newest is None or not (required or any_of):  # no papers, or no word to look for
            return found
        statement = _span_sql(bool(required), len(any_of))
        keys = {"required": list(required)} | {f"any_{n}": list(k) for n, k in enumerate(any_of)}
        high, span = newest + 1, FIRST_SPAN
        while high > oldest and len(found) < WINDOW:
            low = high - span
            params = {**keys, "low": low, "high": high, "needed": WINDOW - len(found)}
            found += session.scalars(statement, params)
            high, span = low, span * SPAN_GROWTH
        return found

    @staticmethod
    def _tsquery(alternatives: Sequence[Sequence[str]]) -> ColumnElement[Any]:
        """Any one of the phrases (a single word is a phrase of one)."""
        phrases = [
            func.phraseto_tsquery(PG_CONFIG, func.papers_fts_words(" ".join(words)))
            for words in alternatives
        ]
        return reduce(lambda a, b: a.op("||")(b), phrases)

    @staticmethod
    def _hits(session: Session, query: str, ids: Sequence[int]) -> tuple[Hit, ...]:
        if not ids:
            return ()
        # Cut from the folded abstract, which the query's words were matched against.
        abstract = func.papers_fts_fold(PaperRow.abstract)
        snippet = func.ts_headline(PG_CONFIG, abstract, cast(query, TSQUERY), _HEADLINE_OPTIONS)
        rows = session.execute(
            select(
                PaperRow.id,
                PaperRow.title,
                PaperRow.arxiv_id,
                PaperRow.code_url,
                PaperRow.project_url,
                PaperRow.published,
                PaperRow.featured_on,
                snippet,
                abstract,
            ).where(PaperRow.id.in_(ids))
        )
        return _in_order(
            ids, {row[0]: _hit(row, _with_ellipses(row[7] or "", row[8] or "")) for row in rows}
        )


def _with_ellipses(snippet: str, abstract: str) -> str:
    """The snippet with "…" where it cuts the abstract short, as FTS5's snippets have."""
    plain = snippet.replace(MARK_START, "").replace(MARK_END, "")
    start = abstract.find(plain)
    if not plain or start < 0:
        return snippet
    before = "…" if abstract[:start].strip() else ""
    after = "…" if abstract[start + len(plain) :].strip() else ""
    return before + snippet + after


def known_words(session: Session, words: Collection[str]) -> set[str]:
    """The words that are in the vocabulary."""
    if not words:
        return set()
    query = select(SearchWordRow.word).where(SearchWordRow.word.in_(sorted(words)))
    return set(session.scalars(query))


def _starting_with(prefix: str) -> ColumnElement[bool]:
    # A key range, so an index finds the words; the largest code point closes the range.
    # (Words compare by code point: on PostgreSQL the column has the C collation, see
    # migration 0005.)
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
