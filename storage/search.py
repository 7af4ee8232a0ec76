"""Full-text search over the analysed titles and abstracts, and the vocabulary behind it.

The indexes hold each paper's words as bot/analysis.py reads them (storage/search_index.py),
in exact form and as word families. A search arrives as a `Plan` of plain keys, never raw
user text: tiers of clauses, best tier first (the exact phrase in the title, ..., family
matches, typo corrections), and words to exclude. Each backend writes its own query syntax
from those keys, which are letters and digits only. SQLite uses FTS5 (migrations 0002 and
0006); PostgreSQL a weighted tsvector per paper with a GIN index (migrations 0005, 0006).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from itertools import pairwise
from typing import Literal, Protocol

from sqlalchemy import ColumnElement, TextClause, and_, bindparam, func, select, text
from sqlalchemy.orm import Session

from bot.records import SearchUnavailable as SearchUnavailable  # re-exported
from storage.models import (
    COMMON_PAPERS,
    PaperRow,
    SearchAcronymRow,
    SearchFamilyRow,
    SearchWordRow,
)
from storage.search_index import RECENT, TERMS_TABLE

# The FTS5 index of every paper, of the newest papers only, and of every title (see
# Fts5Search); PostgreSQL's table of the newest papers has the same name.
FTS_INDEX = "papers_fts"
RECENT_INDEX = "papers_fts_recent"
TITLE_INDEX = "papers_fts_titles"

# Ranking scores at most this many matches of a tier: the newest ones (see Fts5Search).
WINDOW = 2000
# Above every paper's id (SQLite's largest rowid): no upper bound on the ids read.
MAX_ID = 2**63 - 1
# With this many matches among the newest papers, ranking looks no further back.
RECENT_ENOUGH = 20
# A title hit counts this many times an abstract hit.
TITLE_WEIGHT = 5.0
# The last word of a query also matches up to this many longer words that begin with it.
PREFIX_COMPLETIONS = 8

# Which of a paper's analysed texts a clause looks in.
Columns = Literal["title_exact", "abstract_exact", "exact", "family"]


def is_fts_table(name: str) -> bool:
    """The full-text indexes and their tables, which the models do not describe."""
    return name.startswith(FTS_INDEX)


@dataclass(frozen=True, slots=True)
class Clause:
    """A paper has one of these phrases (keys in a row; one key is a phrase of one)."""

    columns: Columns
    phrases: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Tier:
    """Papers with every clause (or every clause of one of the alternatives); a tier's
    matches rank above those of the next."""

    clauses: tuple[Clause, ...]
    alternatives: tuple[tuple[Clause, ...], ...] = ()

    @property
    def conjunctions(self) -> tuple[tuple[Clause, ...], ...]:
        return (self.clauses, *self.alternatives)


@dataclass(frozen=True, slots=True)
class Plan:
    tiers: tuple[Tier, ...]
    # Papers with any of these are left out.
    exclude: tuple[Clause, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    title: str
    abstract: str
    arxiv_id: str | None
    code_url: str | None
    project_url: str | None
    published: date | None
    featured_on: date | None


@dataclass(frozen=True, slots=True)
class HitPage:
    hits: tuple[Hit, ...]
    # The matches of the broadest tier that were counted (at most WINDOW); `capped`: more
    # papers may match, older than those counted.
    matches: int
    capped: bool


@dataclass(frozen=True, slots=True)
class Count:
    matches: int
    # More papers may match, older than those counted.
    capped: bool = False
    # The query is common: its matches among the newest papers are all that is ranked.
    recent_only: bool = False


class SearchBackend(Protocol):
    def ranked(
        self, session: Session, plan: Plan, tier: Tier, needed: int, exhaustive: bool = True
    ) -> list[int]:
        """Up to `needed` ids of papers matching the tier (and no exclusion), best first.

        Not `exhaustive`: for a common query, a tier that has few matches among the newest
        papers need not be looked for among the older ones."""
        ...

    def count(self, session: Session, plan: Plan, tier: Tier) -> Count:
        """How many papers match the tier, counting at most WINDOW."""
        ...


def backend_for(session: Session) -> SearchBackend:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return Fts5Search()
    if dialect == "postgresql":
        return PostgresSearch()
    raise SearchUnavailable(f"search is not available on {dialect}")


def search(session: Session, plan: Plan, *, limit: int, offset: int) -> HitPage:
    """A page of the plan's matches: every match of a tier before any of the next."""
    if not plan.tiers:
        return HitPage((), 0, capped=False)
    backend = backend_for(session)
    needed = offset + limit
    # A common query ranks its matches among the newest papers only (see Fts5Search).
    # The title tiers are still looked for through the whole library: a paper with the
    # exact words in its title comes first however old it is.
    count = backend.count(session, plan, plan.tiers[-1])
    ordered: dict[int, None] = {}
    for tier in plan.tiers:
        # A tier's matches include the earlier tiers' (each tier loosens the last).
        exhaustive = titles_only(tier) or not count.recent_only
        # One more than the page needs: whether there is a next page.
        for paper_id in backend.ranked(session, plan, tier, needed + 1 + len(ordered), exhaustive):
            ordered.setdefault(paper_id, None)
        if len(ordered) > needed:
            break
    ids = list(ordered)[offset:needed]
    return HitPage(fetch(session, ids), max(count.matches, len(ordered)), count.capped)


def fetch(session: Session, ids: Sequence[int]) -> tuple[Hit, ...]:
    """The papers with these ids, in this order."""
    if not ids:
        return ()
    rows = session.execute(
        select(
            PaperRow.id,
            PaperRow.title,
            PaperRow.abstract,
            PaperRow.arxiv_id,
            PaperRow.code_url,
            PaperRow.project_url,
            PaperRow.published,
            PaperRow.featured_on,
        ).where(PaperRow.id.in_(ids))
    )
    by_id = {row[0]: Hit(*row) for row in rows}
    return tuple(by_id[paper_id] for paper_id in ids if paper_id in by_id)


# --- SQLite: FTS5 ---------------------------------------------------------------------

_FTS5_COLUMNS: dict[Columns, str] = {
    "title_exact": "{title_exact}",
    "abstract_exact": "{abstract_exact}",
    "exact": "{title_exact abstract_exact}",
    "family": "{title_family abstract_family}",
}


def fts5_quoted(words: Sequence[str]) -> str:
    # Inside an FTS5 string only '"' is special, and doubling it escapes it; keys never
    # hold one, but the escape keeps that true whatever a caller passes.
    return '"' + " ".join(words).replace('"', '""') + '"'


def _fts5_clause(clause: Clause) -> str:
    phrases = " OR ".join(fts5_quoted(phrase) for phrase in clause.phrases)
    return f"{_FTS5_COLUMNS[clause.columns]} : ({phrases})"


def titles_only(tier: Tier) -> bool:
    return all(c.columns == "title_exact" for clauses in tier.conjunctions for c in clauses)


def _fts5_tier(tier: Tier) -> str:
    conjunctions = [" AND ".join(map(_fts5_clause, c)) for c in tier.conjunctions]
    return " OR ".join(f"({c})" for c in conjunctions)


def _within(part: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether `part` is a run of consecutive words of `phrase`."""
    width = len(part)
    return any(tuple(phrase[i : i + width]) == tuple(part) for i in range(len(phrase) - width + 1))


def _implies(clauses: Sequence[Clause], clause: Clause) -> bool:
    """Whether every paper with all of `clauses` has `clause`: one of them looks in the same
    columns, and each of its phrases holds one of the clause's."""
    return any(
        c.columns == clause.columns
        and all(any(_within(part, phrase) for part in clause.phrases) for phrase in c.phrases)
        for c in clauses
    )


def matched(tier: Tier) -> Tier:
    """A tier with the same matches, without the alternatives its clauses already cover: a
    query read as one keyword is often the same words in a row, a phrase every paper with
    it has each word of. Only for finding matches: ranking scores the alternatives too.
    The index then reads each word's postings once, not again to look for the phrase."""
    kept = tuple(
        alternative
        for alternative in tier.alternatives
        if not all(_implies(alternative, clause) for clause in tier.clauses)
    )
    return Tier(tier.clauses, kept)


def _fts5_query(clauses: Sequence[str], exclude: Sequence[Clause]) -> str:
    query = "(" + " AND ".join(clauses) + ")"
    if exclude:
        query += " NOT (" + " OR ".join(_fts5_clause(c) for c in exclude) + ")"
    return query


_RECENT_FLOOR_SQL = text(f"SELECT min(id) FROM {RECENT_INDEX}_docsize")
_OLDEST_SQL = text("SELECT min(id) FROM papers")


_COUNT_SQL = text(
    f"SELECT count(*) FROM (SELECT rowid FROM {RECENT_INDEX} WHERE {RECENT_INDEX} MATCH :query "
    "AND rowid >= :floor ORDER BY rowid ASC LIMIT :limit)"
)


@cache
def _matches_sql(index: str, order: str) -> TextClause:
    return text(
        f"SELECT rowid FROM {index} WHERE {index} MATCH :query AND rowid >= :floor "
        f"AND rowid < :ceiling ORDER BY rowid {order} LIMIT :limit"
    )


def _newest(
    session: Session, index: str, query: str, floor: int = 0, ceiling: int = MAX_ID
) -> list[int]:
    """The newest WINDOW matches with an id from `floor` to `ceiling` (excluded), newest
    first.

    Oldest first, FTS5 skips along the rarest word's postings and stops after WINDOW + 1
    rows; newest first, it reads each word's whole posting list. So it asks oldest first,
    and has all the matches when there are no more than WINDOW: only a common query is
    asked again newest first."""
    params = {"query": query, "floor": floor, "ceiling": ceiling, "limit": WINDOW + 1}
    found = session.scalars(_matches_sql(index, "ASC"), params).all()
    if len(found) <= WINDOW:
        return list(found[::-1])
    return list(session.scalars(_matches_sql(index, "DESC"), {**params, "limit": WINDOW}).all())


@cache
def _ranked_sql(index: str, filtered: bool) -> TextClause:
    # `filtered`: the ranking expression leaves out common clauses, so the rows must also be
    # among the newest matches of the whole query, whose ids are given.
    # "+rowid": as an index constraint, the IN list would run the MATCH once per id.
    among = "AND +rowid IN :ids " if filtered else ""
    # Title words weigh more, in the indexes that have abstracts too.
    weights = "1.0, 1.0" if index == TITLE_INDEX else f"{TITLE_WEIGHT}, 1.0, {TITLE_WEIGHT}, 1.0"
    statement = text(
        f"SELECT rowid FROM {index} WHERE {index} MATCH :rank_query AND rowid >= :cut "
        f"{among}ORDER BY bm25({index}, {weights}), rowid DESC LIMIT :limit"
    )
    return statement.bindparams(bindparam("ids", expanding=True)) if filtered else statement


_TERMS_SQL = text(
    f"SELECT id, title_exact, abstract_exact, title_family, abstract_family FROM {TERMS_TABLE} "
    "WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_TEXTS: dict[Columns, tuple[int, ...]] = {
    "title_exact": (0,),
    "abstract_exact": (1,),
    "exact": (0, 1),
    "family": (2, 3),
}


def _spaced(text: str) -> str:
    """An analysed text's keys between single spaces, and one before and after. They are
    so already unless a key is empty (two spaces in a row), which FTS5 does not see."""
    return f" {text} " if "  " not in text else f" {' '.join(text.split())} "


@dataclass(frozen=True, slots=True)
class _Known:
    """Every match of a plan's broadest tier, with their analysed texts: the broadest tier
    holds every match of every tier (bot/search.plan), so a tier's matches are found among
    these few papers, not through the index. For a rare mix of common words that saves
    reading the words' long posting lists again for each tier."""

    ids: list[int]  # newest first
    # Each analysed text as its keys between single spaces, with one before and after: a
    # phrase is in it, as FTS5 reads it (words in a row within one column), when its keys so
    # spaced are, which str's search in C finds.
    texts: list[tuple[int, tuple[str, ...]]]
    # False for a rare mix of common words read only as far back as its newest
    # RECENT_ENOUGH (Fts5Search._staged): only the newest matches are known.
    complete: bool = True
    # The papers with each clause asked about: tiers share clauses.
    having: dict[Clause, set[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, session: Session, ids: list[int], complete: bool = True) -> _Known:
        texts = []
        if ids:
            for row in session.execute(_TERMS_SQL, {"ids": ids}):
                texts.append((row[0], tuple(map(_spaced, row[1:]))))
        return cls(ids, texts, complete)

    def _with(self, clause: Clause) -> set[int]:
        if clause not in self.having:
            found: set[int] = set()
            for column in _TEXTS[clause.columns]:
                for phrase in clause.phrases:
                    run = f" {' '.join(phrase)} "
                    found.update(paper for paper, texts in self.texts if run in texts[column])
            self.having[clause] = found
        return self.having[clause]

    def matching(self, tier: Tier, exclude: Sequence[Clause]) -> list[int]:
        """The papers with the tier and no exclusion, newest first."""
        found = set[int]().union(
            *(set.intersection(*map(self._with, clauses)) for clauses in tier.conjunctions)
        )
        found.difference_update(*map(self._with, exclude))
        return [paper for paper in self.ids if paper in found]


class Fts5Search:
    """SQLite FTS5, a tier ranked by bm25 with title words weighted over abstract words.

    The work per tier is bounded, so that it costs about the same at 10,000 papers as at a
    million (bench/search.py measures it):

    - Only the newest WINDOW matches of a tier are ranked (see _newest for how they are
      read). For a common query the results are the best of the recent matches, not of
      all of them; a better tier is always listed before a worse one, and the title tiers
      are looked for through the whole library, in an index of titles alone.
    - bm25 needs each phrase's number of papers, and FTS5 counts them by reading the
      word's whole posting list: linear in the library for a common word. So a tier with
      RECENT_ENOUGH matches or more among the newest papers ranks only those, on a second
      index that holds just the newest papers (50,000; see the migrations). A rarer tier
      ranks its newest WINDOW matches on the whole index, but leaves out of the scoring the
      clauses that are common (WINDOW papers or more among the newest): bm25 gives them
      almost no weight anyway, and counting them is what is slow. If every clause is
      common (a rare mix of common words), the matches are listed newest first; the
      newest fifth of a million papers is read first, and with RECENT_ENOUGH matches there
      they are ranked among those, as a common query is among the recent papers (_staged).
    - The broadest tier, counted first, holds every match of every tier: when it has fewer
      than WINDOW, the other tiers find theirs among those papers (_Known) rather than read
      the index again.
    """

    def __init__(self) -> None:
        # Asked once per search (an instance serves one): the library's bounds, and which
        # words are common among the recent papers.
        self._bounds: tuple[int, bool] | None = None
        self._common_words: dict[str, bool] = {}
        # Every match of the plan's broadest tier, counted first, when they are few (see
        # _Known).
        self._known: tuple[Plan, _Known] | None = None

    def _library(self, session: Session) -> tuple[int, bool] | None:
        """The recent index's oldest id, and whether older papers exist; None: no papers."""
        if self._bounds is None:
            floor = session.scalar(_RECENT_FLOOR_SQL)
            if floor is None:
                return None
            self._bounds = floor, floor > (session.scalar(_OLDEST_SQL) or floor)
        return self._bounds

    def ranked(
        self, session: Session, plan: Plan, tier: Tier, needed: int, exhaustive: bool = True
    ) -> list[int]:
        # Alternatives are scored whole: leaving a clause out would change what they match.
        units = (
            [(_fts5_tier(tier), [clause for c in tier.conjunctions for clause in c])]
            if tier.alternatives
            else [(_fts5_clause(clause), [clause]) for clause in tier.clauses]
        )
        clauses = [expression for expression, _ in units]
        query = _fts5_query(clauses, plan.exclude)
        matching = _fts5_query([_fts5_tier(matched(tier))], plan.exclude)
        library = self._library(session)
        if library is None:
            return []
        floor, older = library
        known = self._known[1] if self._known is not None and self._known[0] == plan else None
        if known is not None and not known.complete and titles_only(tier):
            # Only the newest matches are known: titles are still looked for everywhere.
            known = None
        if known is not None:
            # Every match is known: the recent ones are those from the recent index's floor.
            window = known.matching(tier, plan.exclude)
            recent_ids = [paper for paper in window if paper >= floor]
            recent, cut = len(recent_ids), (recent_ids[-1] if recent_ids else 0)
        else:
            recent, cut = self._window(session, matching, floor)
        if recent >= RECENT_ENOUGH or (recent and not (older and exhaustive)):
            params = {"limit": needed, "rank_query": query, "cut": cut}
            return list(session.scalars(_ranked_sql(RECENT_INDEX, filtered=False), params))
        if not (older and exhaustive):
            return []
        # A tier of title words looks through titles only, not every abstract.
        index = TITLE_INDEX if titles_only(tier) and not plan.exclude else FTS_INDEX
        if known is None:
            window = _newest(session, index, matching)
        if not window:
            return []
        scored = [
            expression
            for expression, parts in units
            if not any(self._common(session, clause, floor) for clause in parts)
        ]
        if not scored:
            return list(window[:needed])
        params = {
            "limit": needed,
            "rank_query": _fts5_query(scored, plan.exclude),
            "cut": window[-1],
            "ids": list(window),
        }
        filtered = len(scored) < len(clauses)
        return list(session.scalars(_ranked_sql(index, filtered=filtered), params))

    def count(self, session: Session, plan: Plan, tier: Tier) -> Count:
        # The matches `ranked` chooses from: with enough among the recent papers, only those.
        broadest = matched(tier)
        query = _fts5_query([_fts5_tier(broadest)], plan.exclude)
        library = self._library(session)
        if library is None:
            return Count(0)
        floor, older = library
        recent, _ = self._window(session, query, floor)
        if recent >= RECENT_ENOUGH or (recent and not older):
            return Count(recent, recent >= WINDOW or older, recent_only=older)
        if not older:
            return Count(0)
        # Only if every clause of every tier is common: not an acronym whose letters are
        # rare (its exact tier would lose older matches), nor with an exclusion, whose
        # postings FTS5 reads whole whatever the span.
        if (
            plan.exclude
            or broadest.alternatives
            or not all(
                self._common(session, clause, floor)
                for each in plan.tiers
                for clause in each.clauses
            )
        ):
            found, complete = _newest(session, FTS_INDEX, query), True
        else:
            found, complete = self._staged(session, query, floor)
        if len(found) < WINDOW:
            self._known = plan, _Known.of(session, found, complete)
        return Count(len(found), len(found) >= WINDOW or not complete)

    @staticmethod
    def _staged(session: Session, query: str, floor: int) -> tuple[list[int], bool]:
        """The newest matches of a rare mix of common words, newest first, and whether they
        are the library's newest (False: those of the newest span only, older ones left
        unread). Each word's posting list is long, and FTS5 reads every one to its end for
        the matches from an id on: so the newest papers are read first, four times the
        recent index's size back from its floor (a fifth of a million papers), and the rest
        only when that span holds fewer than RECENT_ENOUGH matches. As for a common query,
        the tiers are then ranked among those matches only (the title tiers through the
        whole library); the span does not depend on the page asked for, so the pages
        agree."""
        start = floor - 4 * RECENT
        if start <= 0:
            return _newest(session, FTS_INDEX, query), True
        found = _newest(session, FTS_INDEX, query, start)
        if len(found) >= WINDOW:  # the library's newest WINDOW, as any read gives
            return found, True
        if len(found) >= RECENT_ENOUGH:
            return found, False
        return (found + _newest(session, FTS_INDEX, query, 0, start))[:WINDOW], True

    def _common(self, session: Session, clause: Clause, floor: int) -> bool:
        """Whether counting the clause's papers, as bm25 does, reads a long posting list: a
        phrase of it has only common words (in WINDOW of the recent papers, in any column:
        a posting list holds every column). FTS5 follows a phrase along its rarest word."""
        return any(all(self._word_common(session, w, floor) for w in p) for p in clause.phrases)

    def _word_common(self, session: Session, word: str, floor: int) -> bool:
        if word not in self._common_words:
            # Counted oldest first, as far as WINDOW: which the newest WINDOW are does not
            # matter here, and reading them newest first would read the whole posting list.
            params = {"query": fts5_quoted([word]), "floor": floor, "limit": WINDOW}
            found = session.scalar(_COUNT_SQL, params) or 0
            self._common_words[word] = found >= WINDOW
        return self._common_words[word]

    @staticmethod
    def _window(session: Session, expression: str, floor: int) -> tuple[int, int]:
        """How many of the newest WINDOW matches have an id from `floor` on (the recent
        index holds every paper from its oldest on), and the oldest one's id."""
        found = _newest(session, RECENT_INDEX, expression, floor)
        return len(found), found[-1] if found else 0


# --- PostgreSQL: a weighted tsvector and GIN indexes ----------------------------------

# The weight labels of migration 0006: A title exact, B abstract exact, C title family,
# D abstract family.
_PG_WEIGHTS: dict[Columns, str] = {
    "title_exact": "A",
    "abstract_exact": "B",
    "exact": "AB",
    "family": "CD",
}
# ts_rank's weights of the labels D, C, B and A: title words over abstract words.
_RANK_WEIGHTS = [1 / TITLE_WEIGHT, 1.0, 1 / TITLE_WEIGHT, 1.0]
# What the indexes of migrations 0005 and 0010 list papers by: every paper's keys, the
# titles' keys, and the newest papers' keys by part.
_PG_KEYS = "papers_fts_keys(document)"
_PG_TITLE_KEYS = "papers_fts_keys(ts_filter(document, '{a}'))"
_PG_PART_KEYS = "papers_fts_listed(keys)"


def _pg_clause(clause: Clause) -> str:
    weights = _PG_WEIGHTS[clause.columns]
    # Keys are letters and digits only: quoted, nothing in them is tsquery syntax.
    phrases = [" <-> ".join(f"'{word}':{weights}" for word in phrase) for phrase in clause.phrases]
    return "(" + " | ".join(phrases) + ")"


def _pg_query(tier: Tier, exclude: Sequence[Clause]) -> str:
    conjunctions = [" & ".join(map(_pg_clause, c)) for c in tier.conjunctions]
    query = " | ".join(f"({c})" for c in conjunctions)
    if exclude:
        query = f"({query}) & !(" + " | ".join(_pg_clause(c) for c in exclude) + ")"
    return query


def _keys(phrase: Sequence[str], weight: str = "") -> set[str]:
    """What the indexes list a paper with a phrase by: its word, or its pairs of adjacent
    words (which imply the words), as migration 0005's keys, or with the weight of their
    part first (0010's)."""
    tag = f"{weight} " if weight else ""
    pairs = {f"{tag}{a} {b}" for a, b in pairwise(phrase)}
    return pairs or {tag + word for word in phrase}


def _any_keys(clause: Clause, parts: bool) -> list[str]:
    """Keys of which a paper with the clause has one: of each phrase (in each part the
    clause looks in, with `parts`), the key fewest papers without the phrase have, its
    first pair (or its word)."""
    weights = _PG_WEIGHTS[clause.columns] if parts else [""]
    tags = [f"{weight} " if weight else "" for weight in weights]
    return sorted({tag + " ".join(phrase[:2]) for phrase in clause.phrases for tag in tags})


def _exact(clauses: Iterable[Clause]) -> bool:
    """Whether the part keys find exactly the papers with these clauses: no phrase is
    longer than a pair."""
    return all(len(phrase) <= 2 for clause in clauses for phrase in clause.phrases)


class _Filter:
    """A WHERE condition on an index's keys, and its parameters."""

    def __init__(self) -> None:
        self.params: dict[str, object] = {}

    def _param(self, value: list[str]) -> str:
        name = f"k{len(self.params)}"
        self.params[name] = value
        return f"CAST(:{name} AS text[])"

    def conjunction(self, keys: str, clauses: Sequence[Clause], parts: bool) -> str:
        """Papers with every clause (a superset, for phrases the keys cannot tell)."""
        required: set[str] = set()
        conditions = []
        for clause in clauses:
            weights = _PG_WEIGHTS[clause.columns] if parts else ""
            if len(clause.phrases) == 1 and len(weights) <= 1:
                required |= _keys(clause.phrases[0], weights)
            else:
                conditions.append(f"{keys} && {self._param(_any_keys(clause, parts))}")
        if required:
            conditions.insert(0, f"{keys} @> {self._param(sorted(required))}")
        return " AND ".join(conditions) or "false"

    def tier(self, keys: str, tier: Tier, parts: bool) -> str:
        conjunctions = [self.conjunction(keys, c, parts) for c in tier.conjunctions]
        return " OR ".join(f"({c})" for c in conjunctions)

    def without(self, keys: str, exclude: Sequence[Clause]) -> str:
        excluded = sorted({key for clause in exclude for key in _any_keys(clause, parts=True)})
        return f"NOT {keys} && {self._param(excluded)}"


# What a statement ranks, beside counting the newest WINDOW candidates and listing the
# matches among them: nothing (a count), the tier's best `needed` matches, or, when the
# candidates are fewer than WINDOW, every tier of the plan among the matches (`tiers` of
# them, each tier's matches in order, best first).
Ranking = Literal["none", "best", "tiers"]


def _tier_ranking_sql(number: int) -> str:
    """The matches with the plan's tier `number`, best first, ranked by ts_rank in the scan
    that reads their tsvectors."""
    tsquery = f"CAST(:tier{number} AS tsquery)"
    return (
        f"ARRAY(SELECT id FROM (SELECT id, ts_rank(CAST(:weights AS real[]), document, {tsquery}) "
        f"AS rank FROM {FTS_INDEX} WHERE id = ANY(ARRAY(SELECT id FROM matches)) "
        f"AND document @@ {tsquery}) AS ranked ORDER BY rank DESC, id DESC)"
    )


@lru_cache(maxsize=256)  # one per shape of query
def _tier_sql(
    candidates: str, check: bool, ranking: Ranking = "best", tiers: int = 0
) -> TextClause:
    """Of the candidates, the newest WINDOW: how many, which of them match (newest first),
    and what `ranking` says. Not `check`: the candidates are the matches, and no tsvector is
    read to list them.

    MATERIALIZED: all the candidates, as the index lists them, then the newest. With ORDER
    BY and LIMIT on the table itself the planner may walk it newest first instead,
    computing each paper's keys until it has enough, which costs far more. What is ranked
    only in some cases is a scalar subquery under CASE, which PostgreSQL evaluates only
    when its branch is taken."""
    query = "CAST(:query AS tsquery)"
    # Ranked as they are checked, each tsvector read once: a CTE holding the tsvectors
    # themselves would copy kilobytes a paper, more than work_mem holds for 2,000 of them.
    rank = f", ts_rank(CAST(:weights AS real[]), document, {query}) AS rank"
    matches = (
        f"matches AS MATERIALIZED (SELECT id{rank if ranking == 'best' else ''} FROM {FTS_INDEX} "
        f"WHERE id = ANY(ARRAY(SELECT id FROM newest)) AND document @@ {query})"
        if check
        else "matches AS (SELECT id FROM newest)"
    )
    statement = (
        f"WITH candidates AS MATERIALIZED ({candidates}), "
        "newest AS MATERIALIZED (SELECT id FROM candidates ORDER BY id DESC LIMIT :window), "
        f"{matches} "
        "SELECT (SELECT count(*) FROM newest), ARRAY(SELECT id FROM matches ORDER BY id DESC)"
    )
    if ranking == "best":  # always checked
        statement += ", ARRAY(SELECT id FROM matches ORDER BY rank DESC, id DESC LIMIT :needed)"
    elif ranking == "tiers":
        statement += "".join(
            f", CASE WHEN (SELECT count(*) FROM newest) < :window THEN {_tier_ranking_sql(n)} END"
            for n in range(tiers)
        )
    return text(statement)


# The settings for this transaction (see PostgresSearch._library), then the bounds: one
# round trip (the bounds are read through the primary keys whatever the settings).
_PG_BOUNDS_SQL = text(
    "SELECT set_config('jit', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('enable_seqscan', 'off', true), "
    f"(SELECT min(id) FROM {RECENT_INDEX}), (SELECT max(id) FROM {RECENT_INDEX}), "
    f"(SELECT min(id) FROM {FTS_INDEX})"
)
# A tier among the newest papers is looked for among the newest SPAN first: a common one
# has its newest WINDOW matches there, and the rest are not read.
SPAN = 4 * WINDOW


@dataclass(frozen=True, slots=True)
class _Found:
    # The newest WINDOW candidates counted, the matches among them (newest first), and the
    # best of those.
    candidates: int
    matches: list[int]
    best: list[int]
    # With ranking "tiers" and fewer than WINDOW candidates: each tier of the plan's
    # matches, best first.
    tiers: tuple[list[int], ...] | None = None


@dataclass(frozen=True, slots=True)
class _AllKnown:
    """Every match of a plan's broadest tier (a rare query's), and each tier's matches among
    them best first, found with them in one statement."""

    plan: Plan
    ids: list[int]
    ranked: dict[Tier, list[int]]


class PostgresSearch:
    """PostgreSQL: a weighted tsvector per paper, GIN indexes of its keys, a tier ranked by
    ts_rank.

    The same strategy as Fts5Search, so that the work is bounded at any size: a GIN index
    lists a word's papers in no useful order, so the newest matches of a common word are
    looked for among the newest papers only (papers_fts_recent, migration 0010):

    - Only the newest WINDOW matches of a tier are ranked. ts_rank scores a paper from its
      own words alone (bm25 counts the word through the library), so ranking them costs
      the same in any library. Each tsvector is in its paper's row (migration 0012), and
      read once to check and rank it.
    - A tier with RECENT_ENOUGH matches or more among the newest papers ranks only those,
      found through keys that say which part of the paper has them, so the index alone
      finds and counts the matches. For a common query (its broadest tier has that many)
      the other tiers are looked for among the newest papers only, but the title tiers
      through the whole library, in an index of titles alone.
    - A rarer query looks through the whole library: few papers have its keys (the rarest
      one's list bounds the work, even for a rare mix of common words). The broadest tier,
      counted first, then holds every match of every tier (bot/search.plan), so each tier
      only checks those few papers: all of them in the statement that counts.
    """

    def __init__(self) -> None:
        # Asked once per search (an instance serves one): the library's bounds, and every
        # match of the plan's broadest tier, when they are few enough to be all known.
        self._bounds: tuple[int, int, bool] | None = None
        self._all: _AllKnown | None = None

    def _library(self, session: Session) -> tuple[int, int, bool] | None:
        """The newest papers' oldest and newest ids, and whether older papers exist; None:
        no papers."""
        if self._bounds is None:
            # The keys' functions are costed high, so that the planner reads the indexes
            # rather than compute them; those costs would also have it compile each query
            # (JIT) and start parallel workers, each of which takes longer than the query.
            # And for a key most papers have, reading every row's keys would still look
            # about as cheap as the index, which it is not: the index it is.
            *_, floor, newest, oldest = session.execute(_PG_BOUNDS_SQL).one()
            if floor is None:
                return None
            self._bounds = floor, newest, floor > oldest
        return self._bounds

    def ranked(
        self, session: Session, plan: Plan, tier: Tier, needed: int, exhaustive: bool = True
    ) -> list[int]:
        library = self._library(session)
        if library is None:
            return []
        _, _, older = library
        if self._all is not None and self._all.plan == plan:
            if tier in self._all.ranked:
                return self._all.ranked[tier][:needed]
            if not self._all.ids:
                return []
            return self._among(session, plan, tier, needed, self._all.ids).best
        recent = self._recent(session, plan, tier, needed, library)
        found = len(recent.matches)
        if found >= RECENT_ENOUGH or (found and not (older and exhaustive)):
            return recent.best
        if not (older and exhaustive):
            return []
        return self._everywhere(session, plan, tier, needed).best

    def count(self, session: Session, plan: Plan, tier: Tier) -> Count:
        library = self._library(session)
        if library is None:
            return Count(0)
        _, _, older = library
        recent = self._recent(session, plan, tier, 0, library)
        found = len(recent.matches)
        if found >= RECENT_ENOUGH or (found and not older):
            return Count(found, found >= WINDOW or older, recent_only=older)
        if not older:
            self._all = _AllKnown(plan, [], {each: [] for each in plan.tiers})
            return Count(0)
        # Counted with every tier ranked among the matches, when they are all known.
        every = self._everywhere(session, plan, tier, 0)
        if every.candidates < WINDOW:
            ranked = dict(zip(plan.tiers, every.tiers or (), strict=False))
            self._all = _AllKnown(plan, every.matches, ranked)
        return Count(len(every.matches), every.candidates >= WINDOW)

    def _recent(
        self, session: Session, plan: Plan, tier: Tier, needed: int, library: tuple[int, int, bool]
    ) -> _Found:
        """The tier among the newest papers, found by their part keys."""
        where = _Filter()
        condition = where.tier(_PG_PART_KEYS, tier, parts=True)
        exact = _exact(c for clauses in tier.conjunctions for c in clauses)
        if plan.exclude and _exact(plan.exclude):
            condition = f"({condition}) AND {where.without(_PG_PART_KEYS, plan.exclude)}"
        elif plan.exclude:
            exact = False
        candidates = f"SELECT id FROM {RECENT_INDEX} WHERE {condition}"
        floor, newest, _ = library
        params = where.params
        if newest - SPAN > floor:
            # The newest SPAN papers first: a common tier has its newest WINDOW candidates
            # there, and the older ones are not read; with fewer there, the older ones too,
            # in the same statement. Either way the newest WINDOW candidates are found.
            # "id + 0": not a range of the primary key, which the planner would walk
            # reading every row's keys instead of the index.
            # The tier's condition in brackets: an OR of alternatives would otherwise take
            # the span for its last alternative alone, and the rows for the others would be
            # filtered by reading their keys (kilobytes each) instead of by the index alone.
            # The older rows' scan is under a condition on the span alone, which PostgreSQL
            # checks once, before reading any of them.
            candidates = (
                f"WITH span AS MATERIALIZED (SELECT id FROM {RECENT_INDEX} "
                f"WHERE ({condition}) AND id + 0 > :low) "
                f"SELECT id FROM span UNION ALL SELECT id FROM {RECENT_INDEX} "
                f"WHERE ({condition}) AND id + 0 <= :low "
                "AND (SELECT count(*) FROM span) < :window"
            )
            params = {**params, "low": newest - SPAN}
        return self._run(session, plan, tier, needed, candidates, params, exact)

    def _everywhere(self, session: Session, plan: Plan, tier: Tier, needed: int) -> _Found:
        """The tier through the whole library: a tier of title words in the titles' index.
        Counted (`needed` 0) with every tier of the plan ranked among the matches, when they
        are fewer than WINDOW."""
        keys = _PG_TITLE_KEYS if titles_only(tier) else _PG_KEYS
        where = _Filter()
        candidates = f"SELECT id FROM {FTS_INDEX} WHERE {where.tier(keys, tier, parts=False)}"
        ranking: Ranking = "best" if needed else "tiers"
        return self._run(session, plan, tier, needed, candidates, where.params, False, ranking)

    def _among(
        self, session: Session, plan: Plan, tier: Tier, needed: int, ids: list[int]
    ) -> _Found:
        candidates = "SELECT unnest(CAST(:among AS integer[])) AS id"
        return self._run(session, plan, tier, needed, candidates, {"among": ids}, False)

    @staticmethod
    def _run(
        session: Session,
        plan: Plan,
        tier: Tier,
        needed: int,
        candidates: str,
        params: dict[str, object],
        exact: bool,
        ranking: Ranking = "best",
    ) -> _Found:
        if not needed and ranking != "tiers":
            ranking = "none"
        # The matches are checked against the tsvector unless the keys find them exactly;
        # ranking the best reads it anyway.
        check = not exact or ranking in ("best", "tiers")
        values = {**params, "window": WINDOW}
        if check:  # whatever is ranked is checked
            values |= {"query": _pg_query(tier, plan.exclude), "weights": _RANK_WEIGHTS}
        if ranking == "best":
            values["needed"] = needed
        tiers = plan.tiers if ranking == "tiers" else ()
        for number, each in enumerate(tiers):
            values[f"tier{number}"] = _pg_query(each, plan.exclude)
        statement = _tier_sql(candidates, check, ranking, len(tiers))
        found, matches, *ranked = session.execute(statement, values).one()
        if ranking == "tiers":
            known = None if ranked and ranked[0] is None else tuple(list(r) for r in ranked)
            return _Found(found, list(matches), [], known)
        return _Found(found, list(matches), list(ranked[0] or []) if ranked else [])


# --- The vocabulary -------------------------------------------------------------------


def acronym_definitions(
    session: Session, acronyms: Collection[str], long_forms: Collection[str]
) -> list[tuple[str, str]]:
    """(acronym, long form) as the stored papers define these acronyms or long forms."""
    if not (acronyms or long_forms):
        return []
    query = select(SearchAcronymRow.acronym, SearchAcronymRow.long_form).where(
        SearchAcronymRow.acronym.in_(sorted(acronyms))
        | SearchAcronymRow.long_form.in_(sorted(long_forms))
    )
    return [(row.acronym, row.long_form) for row in session.execute(query)]


def family_counts(session: Session, families: Collection[str]) -> dict[str, int]:
    """How many papers use a word of each of these families (absent: none)."""
    if not families:
        return {}
    query = select(SearchFamilyRow.family, SearchFamilyRow.papers).where(
        SearchFamilyRow.family.in_(sorted(families))
    )
    return {row.family: row.papers for row in session.execute(query)}


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
