"""Search latency as the library grows: p50 and p95 per size, and how p95 grows.

One synthetic library is built from the seed papers and grown through each size (10,000,
200,000 and 1,000,000 papers by default). Its papers recombine seed title halves and
abstract sentences, so the everyday vocabulary and its frequencies look real, and each gets
an invented method name ("Bakodu: ...") in its title and abstract, so the vocabulary keeps
growing with the library as real ones do (model names, acronyms, rare terms). Papers go in
through storage (queries.insert_new_papers), so the full-text indexes and the vocabulary
are kept by the same triggers and code as in production.

At each size a fixed mix of queries runs through bot.search.search, each in a new session,
as the bot would: common topic words, rare words, quoted phrases, several words, unfinished
last words, misspellings, method names, and rare combinations of six common words. After a
warm-up round, --rounds rounds are timed; p50 and p95 are over every timed query at that
size, and "cpu p95" over the CPU time per query: this process's (on SQLite all of the work)
and, on PostgreSQL, the server process's when it runs on this machine. Less moved by other
jobs on the machine than the time.

--library SIZE=URL measures libraries built earlier (several sizes, in one run) instead of
growing one. --load-from fills an empty PostgreSQL database (--url) with a SQLite library
built here, in far less time than PostgreSQL's own insert path takes for a million papers
(the GIN index of every paper's keys is built once instead of paper by paper): see `load`.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import math
import random
import re
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import Cursor
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.records import Paper
from bot.search import search
from bot.sources import parse_page
from storage import db, queries
from storage.models import PaperRow
from storage.search import FTS_INDEX, RECENT_INDEX
from storage.search_index import TERMS_TABLE, vocabulary_words

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SIZES = (10_000, 200_000, 1_000_000)
BATCH = 5_000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CONSONANTS = "bdfghjklmnprstvz"
_VOWELS = "aeiou"
TOPICS = [
    *("learning", "neural", "networks", "graph", "diffusion", "transformer", "language"),
    *("training", "attention", "image", "reinforcement", "convolutional", "optimization"),
]
KINDS = ("common", "rare", "phrase", "words", "prefix", "typo", "name", "combination")
# A "combination" query: six common words that few papers have all of, about this many in a
# million papers (estimated from how many seed papers have each word).
COMBINATION_WORDS = 6
COMBINATION_MATCHES = (50, 500)


def method_name(number: int) -> str:
    """A pronounceable made-up name, different for every number: 0 -> "Bababa"."""
    syllables = []
    for _ in range(3):
        number, syllable = divmod(number, len(_CONSONANTS) * len(_VOWELS))
        consonant, vowel = divmod(syllable, len(_VOWELS))
        syllables.append(_CONSONANTS[consonant] + _VOWELS[vowel])
    while number:
        number, letter = divmod(number, len(_CONSONANTS))
        syllables.append(_CONSONANTS[letter])
    return "".join(syllables).capitalize()


class Corpus:
    def __init__(self, seeds: Path) -> None:
        papers = {
            paper.title: paper
            for path in sorted(seeds.glob("*.txt"))
            for paper in parse_page(path.read_bytes()).papers
        }
        self.titles = [title.split() for title in papers]
        self.sentences = [
            sentence
            for paper in papers.values()
            for sentence in _SENTENCE_END.split(paper.abstract)
            if len(sentence) > 20
        ]
        self.vocabulary: Counter[str] = Counter()
        for paper in papers.values():
            # Sorted: the order of a set changes from run to run, and so would the picks.
            self.vocabulary.update(sorted(vocabulary_words(paper.title, paper.abstract)))

    def paper(self, number: int, rng: random.Random) -> Paper:
        one, other = rng.sample(self.titles, 2)
        name = method_name(number)
        title = " ".join(one[: len(one) // 2] + other[len(other) // 2 :])
        abstract = " ".join(rng.sample(self.sentences, rng.randint(5, 8)))
        return Paper(
            title=f"{name}: {title}",
            abstract=f"We propose {name}. {abstract}",
            arxiv_id=f"{2001 + number // 100_000}.{number % 100_000:05d}",
            featured_on=date(2020, 1, 1) + timedelta(days=number // 500),
        )

    def _misspelt(self, word: str, rng: random.Random) -> str:
        """The word with a letter left out or two letters swapped, and no longer a word."""
        while True:
            at = rng.randrange(1, len(word) - 1)
            if rng.random() < 0.5:
                typo = word[:at] + word[at + 1 :]
            else:
                typo = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
            if typo not in self.vocabulary:
                return typo

    def _combination(self, rng: random.Random) -> str:
        """Six common words that together are rare: each in a tenth of the papers or more,
        all six in about COMBINATION_MATCHES of a million (words independent)."""
        seeds = len(self.titles)
        common = [w for w, n in self.vocabulary.most_common(150) if len(w) >= 5]
        while True:
            words = rng.sample(common, COMBINATION_WORDS)
            expected = 1_000_000 * math.prod(self.vocabulary[w] / seeds for w in words)
            if COMBINATION_MATCHES[0] <= expected <= COMBINATION_MATCHES[1]:
                return " ".join(words)

    def queries(self, size: int, rng: random.Random, per_kind: int) -> list[tuple[str, str]]:
        """(kind, query) pairs; method names are drawn from the first `size` papers."""
        by_count = [word for word, _ in self.vocabulary.most_common()]
        mid = [w for w in by_count[50:1500] if len(w) >= 7]
        rare = [w for w, n in self.vocabulary.items() if n <= 2 and len(w) >= 5]
        bigrams = [
            f'"{a} {b}"'.lower()
            for title in self.titles
            for a, b in itertools.pairwise(title)
            if a.isalpha() and b.isalpha() and len(a) > 3 and len(b) > 3
        ]
        picks: dict[str, list[str]] = {
            "common": rng.sample(TOPICS, per_kind),
            "rare": rng.sample(rare, per_kind),
            "phrase": rng.sample(bigrams, per_kind),
            "words": [f"{rng.choice(TOPICS)} {word}" for word in rng.sample(mid + rare, per_kind)],
            "prefix": [
                f"{rng.choice(TOPICS)} {word[: rng.randint(4, 6)]}"
                for word in rng.sample(mid, per_kind)
            ],
            "typo": [self._misspelt(word, rng) for word in rng.sample(mid, per_kind)],
            # Before the names, whose draws depend on the size: the same at every size.
            "combination": [self._combination(rng) for _ in range(per_kind)],
            "name": [method_name(rng.randrange(size)) for _ in range(per_kind)],
        }
        return [(kind, query) for kind in KINDS for query in picks[kind]]


def grow(sessions: sessionmaker[Session], corpus: Corpus, size: int, rng: random.Random) -> None:
    with sessions() as session:
        have = session.scalar(select(func.count()).select_from(PaperRow)) or 0
    now = datetime.now(UTC)
    for start in range(have, size, BATCH):
        batch = [corpus.paper(n, rng) for n in range(start, min(size, start + BATCH))]
        with sessions.begin() as session:
            queries.insert_new_papers(session, batch, now)


# The tables a library's papers fill, in the order their foreign keys need.
LOADED = ("papers", TERMS_TABLE, "search_words", "search_families", "search_acronyms")
_GIN_INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes "
    "WHERE tablename IN ('papers_fts', 'papers_fts_recent') AND indexdef LIKE '%USING gin%'"
)


def _copy(sqlite: sqlite3.Connection, cursor: Cursor[Any], table: str, where: str = "") -> None:
    columns = ", ".join(row[1] for row in sqlite.execute(f"PRAGMA table_info({table})"))
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in sqlite.execute(f"SELECT {columns} FROM {table} {where}"):
            copy.write_row(row)


def load(source: Path, engine: Engine) -> None:
    """Copy the library in SQLite file `source` into the empty PostgreSQL database of
    `engine`, both at the latest revision, leaving what paperboy's own ingest of the same
    papers would: the same rows in every table, the same indexes.

    The rows are copied (COPY) and indexed by the migrations' own triggers: the analysed
    texts' insert trigger writes each paper's tsvector, and the newest papers' trigger,
    enabled for the newest papers alone, lists them as it does on ingest. What is left out
    is the GIN indexes' upkeep row by row: they are dropped for the copy and built again,
    from their own definitions, once at the end."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as sqlite:
        newest = int(sqlite.execute("SELECT max(id) FROM papers").fetchone()[0])
        # The SQLite library's index of the newest papers holds as many as PostgreSQL's.
        recent = sqlite.execute(f"SELECT count(*) FROM {RECENT_INDEX}_docsize").fetchone()[0]
        with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(False)) as pg:
            cursor = pg.cursor()
            cursor.execute("SET TIME ZONE 'UTC'")  # SQLite's timestamps are UTC
            cursor.execute("SET maintenance_work_mem = '1GB'")
            indexes = cursor.execute(_GIN_INDEXES).fetchall()
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {name}")
            trigger = f"TRIGGER {RECENT_INDEX}_sync"
            cursor.execute(f"ALTER TABLE {FTS_INDEX} DISABLE {trigger}")
            for table in LOADED:
                if table != TERMS_TABLE:
                    _copy(sqlite, cursor, table)
                    continue
                # The newest papers with the newest papers' trigger on, as on ingest.
                _copy(sqlite, cursor, table, f"WHERE id <= {newest - recent}")
                cursor.execute(f"ALTER TABLE {FTS_INDEX} ENABLE {trigger}")
                _copy(sqlite, cursor, table, f"WHERE id > {newest - recent}")
            for _, definition in indexes:
                cursor.execute(definition)
            cursor.execute("SELECT setval('papers_id_seq', %s)", (newest,))
            pg.commit()
            pg.autocommit = True
            cursor.execute("ANALYZE")


def server_cpu(session: Session) -> float:
    """The CPU time (ms) of the PostgreSQL server process serving this session, when it runs
    on this machine (/proc/PID/schedstat, in nanoseconds); 0 otherwise."""
    if session.get_bind().dialect.name != "postgresql":
        return 0.0
    pid = session.connection().connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def timed(sessions: sessionmaker[Session], query: str) -> tuple[float, float]:
    """The query's time and CPU time (ms): this thread's, and on PostgreSQL the server
    process's too when it runs here. A figure other jobs on the machine move less."""
    start, cpu = time.perf_counter(), time.thread_time()
    with sessions() as session:
        server = server_cpu(session)
        search(session, query)
        server = server_cpu(session) - server
    return (time.perf_counter() - start) * 1000, (time.thread_time() - cpu) * 1000 + server


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def library(value: str) -> tuple[int, str]:
    size, _, url = value.partition("=")
    return int(size.replace(",", "").replace("_", "")), url


def measure(
    sessions: sessionmaker[Session], corpus: Corpus, size: int, per_kind: int, rounds: int
) -> tuple[dict[str, list[float]], list[float]]:
    """Every query's time (ms) by kind, and every CPU time, after a warm-up round."""
    mix = corpus.queries(size, random.Random(7), per_kind)
    # As `paperboy run` does once started (bot/cli_run.py): what is loaded so far is left
    # out of the collector's full passes. What the searches load is not, as in the bot.
    gc.collect()
    gc.freeze()
    for _, query in mix:  # warm-up: the page cache, the compiled statements
        timed(sessions, query)
    by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    cpu: list[float] = []
    for _ in range(rounds):
        for kind, query in mix:
            took, used = timed(sessions, query)
            by_kind[kind].append(took)
            cpu.append(used)
    return by_kind, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--per-kind", type=int, default=12, help="queries of each kind")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    parser.add_argument(
        "--workdir", type=Path, help="keep the library here and reuse it (default: a temp dir)"
    )
    parser.add_argument(
        "--url",
        help="build the library in this database instead, e.g. an empty PostgreSQL one "
        "(default: a SQLite file in the workdir)",
    )
    parser.add_argument(
        "--load-from",
        type=Path,
        help="only fill the empty PostgreSQL database --url with this SQLite library (the "
        "search-bench.db of an earlier run's --workdir), then stop",
    )
    parser.add_argument(
        "--library",
        type=library,
        action="append",
        default=[],
        metavar="SIZE=URL",
        help="measure this library of SIZE papers, built earlier, instead of growing one "
        "(repeat for each size)",
    )
    args = parser.parse_args()

    if args.load_from:
        engine = db.make_engine(args.url)
        db.upgrade(engine)
        start = time.perf_counter()
        load(args.load_from, engine)
        print(f"loaded {args.load_from} in {time.perf_counter() - start:.0f} s")
        engine.dispose()
        return
    corpus = Corpus(args.seeds)
    results: dict[int, list[float]] = {}
    print(f"{'papers':>9}  {'build':>8}  {'p50':>7}  {'p95':>7}  {'cpu p95':>7}   p95 by kind (ms)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        grown = args.url or f"sqlite:///{workdir / 'search-bench.db'}"
        libraries = dict(args.library) or dict.fromkeys(args.sizes, grown)
        build_rng = random.Random(42)
        for size in sorted(libraries):
            engine = db.make_engine(libraries[size])
            db.upgrade(engine)
            sessions = db.make_sessions(engine)
            start = time.perf_counter()
            if args.library:
                with sessions() as session:
                    have = session.scalar(select(func.count()).select_from(PaperRow))
                if have != size:
                    parser.error(f"the library of {size:,} papers has {have:,}")
            else:
                grow(sessions, corpus, size, build_rng)
            built = time.perf_counter() - start
            by_kind, cpu = measure(sessions, corpus, size, args.per_kind, args.rounds)
            engine.dispose()
            results[size] = [ms for times in by_kind.values() for ms in times]
            kinds = "  ".join(f"{kind} {p95(times):.1f}" for kind, times in by_kind.items())
            print(
                f"{size:>9,}  {built:7.1f}s  {statistics.median(results[size]):5.1f}ms"
                f"  {p95(results[size]):5.1f}ms  {p95(cpu):5.1f}ms   {kinds}",
                flush=True,
            )
    if len(results) > 1:
        low, high = min(results), max(results)
        ratio = p95(results[high]) / p95(results[low])
        print(f"p95 ratio {high:,} / {low:,} papers: {ratio:.2f}x")


if __name__ == "__main__":
    main()
