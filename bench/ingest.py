"""Ingest throughput, and what the content-hash skip saves on a re-ingest.

Builds a synthetic corpus from the seed pages (titles and abstracts recombined into new
papers, with the seeds' share of repeats across pages), then times in one run:
  - the floor: the distinct papers written straight into the same tables and full-text
    indexes by plain sqlite3 statements in one transaction (see floor()),
  - a first ingest into an empty database (baseline), in this process,
  - the same as a `paperboy ingest` command: a new process, migrations included,
  - a re-ingest of the same pages (every page skipped by its content hash),
  - a re-ingest with the skip defeated (every page parsed and merged again).
Figures are medians over --repeat runs, each on a fresh database; every run starts with
no word analysed yet, as a new process does.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bench import peak
from bot import analysis, ingest
from bot.fetch import FetchPolicy
from bot.records import Paper
from bot.sources import parse_page
from storage import db, search_index
from storage.identity import title_key

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
HEADER = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nMar 11\n\n"


def synthetic_pages(seeds: Path, pages: int, per_page: int, rng: random.Random) -> list[str]:
    """Pages of `per_page` entries drawn from a pool of about pages*per_page*0.84 papers."""
    seed_papers = [
        paper
        for path in sorted(seeds.glob("*.txt"))
        for paper in parse_page(path.read_bytes()).papers
    ]
    words = [w for p in seed_papers for w in p.title.split()]
    pool: list[Paper] = []
    for index in range(int(pages * per_page * 0.84)):
        base = seed_papers[index % len(seed_papers)]
        title = f"{base.title} {' '.join(rng.sample(words, 3))} {index}"
        pool.append(Paper(title=title, abstract=base.abstract))
    return [
        HEADER + "\n\n".join(f"{p.title}\n\n{p.abstract}" for p in rng.sample(pool, per_page))
        for _ in range(pages)
    ]


# (wall seconds, CPU seconds): on a machine shared with other work the CPU time is the
# steadier figure.
Timing = tuple[float, float]


def timed_ingest(sessions: sessionmaker[Session], sources: list[str], force: bool) -> Timing:
    _forget_words()
    start, cpu = time.perf_counter(), time.process_time()
    ingest.ingest_all(sessions, sources, FetchPolicy(), force=force)
    return time.perf_counter() - start, time.process_time() - cpu


def _forget_words() -> None:
    """Each timed run analyses its words from nothing, as a new process does."""
    search_index._KEYS.clear()
    search_index._IN_VOCABULARY.clear()
    analysis.word_key.cache_clear()
    analysis.family.cache_clear()


def distinct(pages: list[str]) -> list[Paper]:
    """The papers of the pages once each, in order (the corpus has no arXiv ids and repeats
    papers whole, so a title key tells them apart)."""
    papers: dict[str, Paper] = {}
    for page in pages:
        for paper in parse_page(page.encode()).papers:
            papers.setdefault(title_key(paper.title), paper)
    return list(papers.values())


def _rows(papers: list[Paper]) -> Iterator[tuple[object, ...]]:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    for paper in papers:
        yield (paper.title, title_key(paper.title), paper.abstract, now, now)


COLUMNS = "title_exact, abstract_exact, title_family, abstract_family"


def _floor_inserts(placeholder: str) -> tuple[str, str]:
    """The floor's two statements, for a driver's placeholder: the papers (the ids 1, 2, ...
    of a new database), then their analysed texts under those ids."""
    p = placeholder
    return (
        "INSERT INTO papers (title, title_key, abstract, authors, categories, keywords, "
        f"first_seen_at, updated_at) VALUES ({p}, {p}, {p}, '[]', '[]', '[]', {p}, {p})",
        f"INSERT INTO papers_fts_terms (id, {COLUMNS}) VALUES ({p}, {p}, {p}, {p}, {p})",
    )


def floor(path: str, papers: list[Paper], analysed: bool = True) -> Timing:
    """The same papers in the same tables and full-text indexes, written by plain sqlite3
    statements in one transaction: the papers, their analysed texts (analysed inside the
    timing, as paperboy does), then each index filled from those texts in one statement.
    No lookups of known papers, no vocabulary. Not `analysed`: the database's part alone,
    each text indexed as it is written (the title and abstract twice)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    _forget_words()
    start, cpu = time.perf_counter(), time.process_time()
    connection.execute("BEGIN")
    insert_papers, insert_terms = _floor_inserts("?")
    connection.executemany(insert_papers, _rows(papers))
    connection.executemany(
        insert_terms,
        ((number, *_terms(paper, analysed)) for number, paper in enumerate(papers, start=1)),
    )
    for index, columns in (
        ("papers_fts", COLUMNS),
        ("papers_fts_titles", "title_exact, title_family"),
    ):
        connection.execute(
            f"INSERT INTO {index} (rowid, {columns}) SELECT id, {columns} FROM papers_fts_terms"
        )
    connection.execute(
        f"INSERT INTO papers_fts_recent (rowid, {COLUMNS}) SELECT id, {COLUMNS} "
        f"FROM papers_fts_terms WHERE id > {len(papers) - search_index.RECENT}"
    )
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    connection.close()
    return elapsed


def _terms(paper: Paper, analysed: bool) -> tuple[str, ...]:
    if analysed:
        return search_index.analyse(paper.title, paper.abstract)[0]
    return paper.title, paper.abstract, paper.title, paper.abstract


def cli_ingest(path: str, folder: str) -> Timing:
    """`paperboy ingest FOLDER` into a new database: a new process, migrations and all."""
    command = [str(Path(sys.executable).with_name("paperboy")), "ingest", folder]
    env = os.environ | {"PAPERBOY_DATABASE_URL": f"sqlite:///{path}"}
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} failed")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def peak_rss(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak resident MB, wall seconds) of a command, which must succeed."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "peak"
        start = time.perf_counter()
        peak.launch(argv, report, env=env, stdout=subprocess.DEVNULL).wait()
        wall = time.perf_counter() - start
        rss, code = peak.peak(report)
    if code:
        raise SystemExit(f"{' '.join(argv)} failed")
    return rss, wall


def memory(entries: int, seeds: Path) -> None:
    """Peak memory of `paperboy ingest` of one page of `entries` papers (short ones, to stay
    under the default page size cap), beside the command on a page of one."""
    seed = [p for path in sorted(seeds.glob("*.txt")) for p in parse_page(path.read_bytes()).papers]
    rng = random.Random(1)
    words = [word for paper in seed for word in paper.title.split()]
    lines = []
    for number in range(entries):
        abstract = seed[number % len(seed)].abstract[:110].rsplit(" ", 1)[0]
        lines.append(f"{' '.join(rng.sample(words, 3))} {number}\n\n{abstract}.")
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.txt", Path(tmp) / "small.txt"
        big.write_text(HEADER + "\n\n".join(lines), encoding="utf-8")
        small.write_text(HEADER + "\n\n".join(lines[:1]), encoding="utf-8")
        command = [str(Path(sys.executable).with_name("paperboy")), "ingest"]
        for name, page in (("small", small), ("big", big)):
            env = os.environ | {"PAPERBOY_DATABASE_URL": f"sqlite:///{tmp}/{name}.db"}
            rss, wall = peak_rss([*command, str(page)], env)
            count = entries if page is big else 1
            size = page.stat().st_size / 1e6
            print(
                f"  paperboy ingest, a page of {count:>7,} entries ({size:5.1f} MB): "
                f"peak RSS {rss:6.1f} MB, {wall:6.1f} s"
            )


def library(size: int, seeds: Path) -> None:
    """Time and space of a library of `size` papers made by `paperboy ingest` of pages of
    2,000 distinct papers (bench.search's corpus: recombined titles and abstract sentences,
    a made-up method name each), and what takes the space."""
    from bench.search import Corpus

    corpus, rng = Corpus(seeds), random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pages"
        folder.mkdir()
        for start in range(0, size, 2_000):
            papers = [corpus.paper(n, rng) for n in range(start, min(size, start + 2_000))]
            text = HEADER + "\n\n".join(f"{p.title}\n\n{p.abstract}" for p in papers)
            (folder / f"page{start // 2_000:04d}.txt").write_text(text, encoding="utf-8")
        path = f"{tmp}/library.db"
        elapsed, cpu = cli_ingest(path, str(folder))
        files = [Path(path), Path(path + "-wal")]
        total = sum(file.stat().st_size for file in files if file.exists())
        print(
            f"  {size:,} papers by paperboy ingest: {elapsed / 60:.1f} min "
            f"({size / elapsed:,.0f} papers/s; CPU {cpu / 60:.1f} min), {total / 1e9:.2f} GB"
        )
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows = connection.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
        for name, space in rows[:12]:
            print(f"    {name:<32} {space / 1e6:9.1f} MB")


# The schema the PostgreSQL runs make and drop, and the only one their connections see
# (search_path): nothing else in the database is read, written or dropped.
BENCH_SCHEMA = "paperboy_bench"


def _bench_engine(url: str) -> Engine:
    """An engine for --url whose connections see BENCH_SCHEMA alone, or one clear line."""
    try:
        parsed = db.database_url(url)
    except ArgumentError as exc:
        raise SystemExit(f"--url: not a database URL: {exc}") from None
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("--url: give a PostgreSQL database (postgresql://...)")
    options = f"-csearch_path={BENCH_SCHEMA}"
    return db.make_engine(parsed.update_query_dict({"options": options}).render_as_string(False))


def _make_schema(engine: Engine) -> None:
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
    except OperationalError as exc:
        raise SystemExit(f"--url: cannot connect ({type(exc).__name__})") from None
    except SQLAlchemyError as exc:
        raise SystemExit(
            f"--url: cannot create the schema {BENCH_SCHEMA} for the benchmark "
            f"({type(exc).__name__}; if a run left it, DROP SCHEMA {BENCH_SCHEMA} CASCADE)"
        ) from None


def _drop_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {BENCH_SCHEMA} CASCADE"))


def postgres(url: str, sources: list[str], papers: list[Paper], runs: int) -> dict[str, Timing]:
    """On the PostgreSQL database `url`, in a schema of the benchmark's own (made for each
    run and dropped after it, also when the run fails): the floor (the papers and their
    analysed texts by plain psycopg statements in one transaction, the migrations' triggers
    indexing them) and paperboy's first ingest, medians of `runs`."""
    engine = _bench_engine(url)
    times: dict[str, list[Timing]] = {"floor": [], "first": []}
    try:
        for _ in range(runs):
            for key in times:
                _make_schema(engine)
                try:
                    db.upgrade(engine)
                    if key == "floor":
                        times[key].append(_postgres_floor(engine, papers))
                    else:
                        sessions = db.make_sessions(engine)
                        times[key].append(timed_ingest(sessions, sources, force=False))
                    with engine.connect() as connection:
                        stored = connection.scalar(text("SELECT count(*) FROM papers_fts_recent"))
                    assert stored == len(papers), (key, stored, len(papers))
                finally:
                    engine.dispose()  # no connection of the run holds the schema
                    _drop_schema(engine)
    finally:
        engine.dispose()
    return {
        key: (statistics.median(t for t, _ in found), statistics.median(c for _, c in found))
        for key, found in times.items()
    }


def _postgres_floor(engine: Engine, papers: list[Paper]) -> Timing:
    _forget_words()
    start, cpu = time.perf_counter(), time.process_time()
    insert_papers, insert_terms = _floor_inserts("%s")
    with engine.begin() as connection:
        cursor = connection.connection.cursor()
        cursor.executemany(insert_papers, list(_rows(papers)))
        cursor.executemany(
            insert_terms, [(n, *_terms(paper, True)) for n, paper in enumerate(papers, start=1)]
        )
    return time.perf_counter() - start, time.process_time() - cpu


def _counts(path: str) -> tuple[int, ...]:
    with sqlite3.connect(path) as connection:
        return tuple(
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("papers", "papers_fts_terms", "papers_fts_recent_docsize")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    parser.add_argument(
        "--memory-entries", type=int, default=100_000, help="entries of the page for memory"
    )
    parser.add_argument(
        "--library", type=int, default=0, help="also build a library of this many papers"
    )
    parser.add_argument(
        "--url",
        help=f"also on this PostgreSQL database, in a schema {BENCH_SCHEMA} made and dropped "
        "for each run (nothing else in it is touched)",
    )
    args = parser.parse_args()
    if args.url is not None:
        # Checked before the SQLite part: the schema can be made, and is dropped again.
        engine = _bench_engine(args.url)
        try:
            _make_schema(engine)
            _drop_schema(engine)
        finally:
            engine.dispose()

    rng = random.Random(42)
    texts = synthetic_pages(args.seeds, args.pages, args.per_page, rng)
    papers = distinct(texts)
    # The spelling dictionary the analysis reads, loaded once outside every in-process timing
    # (the first would pay for it alone; the `paperboy ingest` command loads its own).
    analysis.is_dictionary_word("paper")
    times: dict[str, list[Timing]] = {label: [] for label in LABELS}
    with tempfile.TemporaryDirectory() as tmp:
        pages = Path(tmp) / "pages"
        pages.mkdir()
        sources = []
        for number, text in enumerate(texts):
            path = pages / f"page{number:04d}.txt"
            path.write_text(text, encoding="utf-8")
            sources.append(str(path))
        for run in range(args.repeat):
            floor_db = f"{tmp}/floor{run}.db"
            engine = db.make_engine(f"sqlite:///{floor_db}")
            db.upgrade(engine)
            engine.dispose()
            raw_db = shutil.copy(floor_db, f"{tmp}/raw{run}.db")
            times["floor"].append(floor(floor_db, papers))
            times["raw"].append(floor(raw_db, papers, analysed=False))
            cli_db = f"{tmp}/cli{run}.db"
            times["cli"].append(cli_ingest(cli_db, str(pages)))
            engine = db.make_engine(f"sqlite:///{tmp}/bench{run}.db")
            db.upgrade(engine)
            sessions = db.make_sessions(engine)
            times["first"].append(timed_ingest(sessions, sources, force=False))
            times["skip"].append(timed_ingest(sessions, sources, force=False))
            times["reparse"].append(timed_ingest(sessions, sources, force=True))
            engine.dispose()
            assert _counts(floor_db) == _counts(cli_db) == _counts(f"{tmp}/bench{run}.db")
        on_postgres = {} if args.url is None else postgres(args.url, sources, papers, args.repeat)

    entries = args.pages * args.per_page
    wall = {key: statistics.median(t for t, _ in timings) for key, timings in times.items()}
    cpu = {key: statistics.median(c for _, c in timings) for key, timings in times.items()}
    print(f"corpus: {args.pages} pages, {entries} entries, {len(papers)} distinct papers")
    print(f"medians over {args.repeat} runs, each on a fresh SQLite database:")
    for key, label in LABELS.items():
        print(
            f"  {label:<34} {wall[key]:8.3f} s  {entries / wall[key]:>9,.0f} entries/s"
            f"  {len(papers) / wall[key]:>9,.0f} papers/s  {wall[key] / wall['first']:6.3f}x"
            f" baseline  CPU {cpu[key]:7.3f} s  {len(papers) / cpu[key]:>7,.0f} papers/CPU-s"
        )
    for floor_key, name in (("floor", "floor"), ("raw", "floor without analysis")):
        for measure, figures in (("time", wall), ("CPU time", cpu)):
            print(
                f"paperboy / {name}, {measure}: {figures['first'] / figures[floor_key]:.2f}x"
                f" (first ingest), {figures['cli'] / figures[floor_key]:.2f}x (paperboy"
                " ingest, whole command)"
            )
    if on_postgres:
        print(f"medians over {args.repeat} runs, each in a new PostgreSQL schema:")
        for key, label in (("floor", "floor: plain psycopg inserts"), ("first", LABELS["first"])):
            elapsed, used = on_postgres[key]
            print(
                f"  {label:<34} {elapsed:8.3f} s  {len(papers) / elapsed:>9,.0f} papers/s"
                f"  {elapsed / wall['first']:6.2f}x SQLite's first ingest  CPU (this process)"
                f" {used:7.3f} s"
            )
        ratio = on_postgres["first"][0] / on_postgres["floor"][0]
        print(f"paperboy / floor on PostgreSQL, time: {ratio:.2f}x (first ingest)")
    if args.memory_entries:
        memory(args.memory_entries, args.seeds)
    if args.library:
        library(args.library, args.seeds)


LABELS = {
    "floor": "floor: plain sqlite3 inserts",
    "raw": "floor without analysis",
    "first": "first ingest (baseline)",
    "cli": "first ingest, `paperboy ingest` run",
    "skip": "re-ingest, hash skip",
    "reparse": "re-ingest, parse + merge",
}


if __name__ == "__main__":
    main()
