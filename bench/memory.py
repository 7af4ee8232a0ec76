"""Peak resident memory of `paperboy preview`, `paperboy search` and a digest run of
`paperboy run` over a large library, and the time of `preview --keyword`.

One synthetic library is built (once; --workdir keeps it for the next run) as bench/search.py
builds its own: seed titles and abstract sentences recombined, a made-up method name per
paper, inserted through storage code so that the search indexes and vocabulary are kept as
in production. Papers also get authors and arXiv categories, and were first stored over the
years before now, 500 a day, as a real library's were. --subscribers private chats are
subscribed to one to three keywords each (bench/delivery.py's), all due for a digest.
Analysing each paper in Python takes hours for a million: --copy-to grows the library
further with copies of the analysed papers under new ids, indexed by the same triggers.

Each command then runs in a process of its own, and its peak resident set size is read
from the kernel's accounting of that process (ru_maxrss, through bench/peak.py's small
launcher: a process forked from this one would count this one's peak as its own):
  - `paperboy preview --keyword K` for keywords of several kinds (a common topic word, a
    phrase, a typo, an acronym, a method name (of one paper, and its copies), a category filter);
  - `paperboy search Q` for a few queries;
  - `paperboy run` against the local Bot API stand-in (bot.devserver, with no rate limits
    and PAPERBOY_RATE_LIMIT=1000 on paid broadcasts, so that the run is bound by planning):
    started with every chat due, it runs its first digest tick at once and is stopped when
    every chat had its digest.
--code DIR runs the children with another checkout's code (say, the code before a change,
from `git archive`), against the same library, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bench import peak
from bench.delivery import KEYWORDS
from bench.search import SEEDS, Corpus, method_name
from bot.devserver import FakeBotApi
from bot.records import Paper
from storage import db, queries, subscriptions
from storage.models import DeliveryRow, LeaseRow, PaperRow, SubscriberRow
from storage.search import FTS_INDEX, TITLE_INDEX
from storage.search_index import TERMS_TABLE

BATCH = 5_000
PER_DAY = 500
CATEGORIES = ("cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "eess.AS", "cs.IR")
NAMES = (
    *("Ada Lovelace", "Alan Turing", "Grace Hopper", "Yann LeCun", "Geoffrey Hinton"),
    *("Fei-Fei Li", "Yoshua Bengio", "Daphne Koller", "Andrew Ng", "Jürgen Schmidhuber"),
)
TOKEN = "123:ABC"
# (kind, keyword) for preview; the method name is filled in from the library's size.
PREVIEWS = (
    ("topic word", "diffusion"),
    ("phrase", "reinforcement learning"),
    ("typo", "trasnformer"),
    ("acronym", "LLM"),
    ("method name", ""),
    ("category", "cat:cs.RO"),
)
SEARCHES = ("diffusion", "graph neural networks", "trasnformer pruning")


def paper(corpus: Corpus, number: int, rng: random.Random) -> Paper:
    return dataclasses.replace(
        corpus.paper(number, rng),
        authors=tuple(rng.sample(NAMES, rng.randint(1, 4))),
        categories=tuple(rng.sample(CATEGORIES, rng.randint(1, 2))),
    )


def build(
    sessions: sessionmaker[Session], size: int, chats: int, copy_to: int | None = None
) -> None:
    """Grow the library to `size` papers (then to `copy_to` by copying them) and subscribe
    `chats` chats, if not done already."""
    now = datetime.now(UTC)
    with sessions() as session:
        have = session.scalar(select(func.count()).select_from(PaperRow)) or 0
        subscribed = session.scalar(select(func.count()).select_from(SubscriberRow)) or 0
    if have < size:
        corpus = Corpus(SEEDS)
        rng = random.Random(42 + have)
        start_time = time.perf_counter()
        for start in range(have, size, BATCH):
            batch = [paper(corpus, n, rng) for n in range(start, min(size, start + BATCH))]
            # First stored PER_DAY a day, the newest today.
            stored = now - timedelta(days=(size - start - len(batch)) / PER_DAY, hours=1)
            with sessions.begin() as session:
                queries.insert_new_papers(session, batch, stored)
            if (start // BATCH) % 20 == 0:
                elapsed = time.perf_counter() - start_time
                print(f"  built {start + len(batch):,} papers in {elapsed:.0f} s", flush=True)
    if copy_to and have < copy_to:
        copy(sessions, copy_to)
    if subscribed < chats:
        rng = random.Random(7)
        with sessions.begin() as session:
            for chat_id in range(subscribed + 1, chats + 1):
                row = subscriptions.enroll(session, chat_id, "private", now - timedelta(days=30))
                subscriptions.add_keywords(row, rng.sample(KEYWORDS, rng.randint(1, 3)))
                # Due now: the run's first tick sends every digest.
                row.next_digest_at = now - timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    peak_mb: float
    first_line: str


REPORT = Path(tempfile.gettempdir()) / f"bench-memory-{os.getpid()}.peak"


def child(
    args: list[str], url: str, code: Path | None, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`paperboy ARGS` in a process of its own, with this or another checkout's code."""
    env = {**os.environ, "PAPERBOY_DATABASE_URL": url, **(extra or {})}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    command = [sys.executable, "-c", "from bot.cli import run; run()", *args]
    return peak.launch(
        command,
        REPORT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tempfile.gettempdir(),
    )


def finished(process: subprocess.Popen[bytes], started: float) -> Measured:
    """Wait for the child; its time and peak resident set, from the kernel's accounting."""
    assert process.stdout is not None
    first = process.stdout.readline().decode(errors="replace").strip()
    for _ in iter(lambda: process.stdout.read(1 << 16) if process.stdout else b"", b""):
        pass  # the rest of the output, read so that the child never blocks on a full pipe
    process.wait()
    peak_mb, process.returncode = peak.peak(REPORT)
    REPORT.unlink()
    return Measured(time.perf_counter() - started, peak_mb, first)


def command(args: list[str], url: str, code: Path | None) -> Measured:
    started = time.perf_counter()
    return finished(child(args, url, code), started)


def reset_digests(sessions: sessionmaker[Session]) -> int:
    """Every chat due for its digest again, nothing delivered yet; returns the chats."""
    past = datetime.now(UTC) - timedelta(minutes=5)
    with sessions.begin() as session:
        session.execute(delete(DeliveryRow))
        session.execute(delete(LeaseRow))  # of a run that was killed
        session.execute(
            update(SubscriberRow).values(
                last_digest_on=None, next_digest_at=past, claimed_by=None, claimed_until=None
            )
        )
        return session.scalar(select(func.count()).select_from(SubscriberRow)) or 0


def digest_run(
    sessions: sessionmaker[Session], url: str, code: Path | None, timeout: float
) -> tuple[Measured, int]:
    """`paperboy run` until every chat had its digest (or `timeout`); returns the peak and
    how many chats had it."""
    chats = reset_digests(sessions)
    api = FakeBotApi(None, limits=None)
    for chat_id in range(1, chats + 1):
        api.add_user(chat_id, f"Reader {chat_id}")
    api.start()
    env = {
        "PAPERBOY_BOT_TOKEN": TOKEN,
        "PAPERBOY_BOT_API_URL": api.base_url.removesuffix("/bot"),
        "PAPERBOY_RATE_LIMIT": "1000",
        "PAPERBOY_PAID_BROADCASTS": "true",
        "PAPERBOY_SOURCES": "",
        "PAPERBOY_LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    process = child(["run"], url, code, env)
    done = 0
    try:
        while time.perf_counter() - started < timeout and process.poll() is None:
            time.sleep(5)
            with sessions() as session:
                query = select(func.count()).where(SubscriberRow.last_digest_on.is_not(None))
                done = session.scalar(query) or 0
            if done >= chats:
                break
        seconds = time.perf_counter() - started
        process.send_signal(signal.SIGINT)
        measured = finished(process, started)
    finally:
        if process.returncode is None:
            process.terminate()
        api.stop()
    return Measured(seconds, measured.peak_mb, ""), done


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


_COPY_PAPERS = text(
    "INSERT INTO papers (id, arxiv_id, title, title_key, abstract, authors, published, "
    "featured_on, upvotes, code_url, project_url, categories, keywords, first_seen_at, "
    "updated_at) SELECT id + :offset, 'copy.' || (id + :offset), title, title_key, "
    "abstract, authors, published, featured_on, upvotes, code_url, project_url, categories, "
    "keywords, first_seen_at, updated_at FROM papers WHERE id > :low AND id <= :high "
    "ORDER BY id"
)
_TERMS = "title_exact, abstract_exact, title_family, abstract_family"
_COPY_TERMS = text(
    f"INSERT INTO {TERMS_TABLE} (id, {_TERMS}) SELECT id + :offset, {_TERMS} "
    f"FROM {TERMS_TABLE} WHERE id > :low AND id <= :high ORDER BY id"
)
# Since migration 0009 no trigger adds a new paper to SQLite's full-text indexes: ingest
# fills them a batch at a time (storage/search_index.py), as these do for the copies. The
# index of the newest papers keeps the newest analysed ones, the newest by date.
_INDEX_COPIES = tuple(
    text(
        f"INSERT INTO {index} (rowid, {columns}) SELECT id, {columns} FROM {TERMS_TABLE} "
        "WHERE id > :low + :offset AND id <= :high + :offset"
    )
    for index, columns in (
        (FTS_INDEX, _TERMS),
        (TITLE_INDEX, "title_exact, title_family"),
    )
)


def copy(sessions: sessionmaker[Session], size: int) -> None:
    """Grow the library to `size` papers with copies of its papers under new ids (their
    analysed texts copied too, and added to the full-text indexes), to build a large
    library in minutes rather than hours: the copies cost no analysis in Python. The
    vocabulary's counts stay those of the papers analysed."""
    started = time.perf_counter()
    with sessions() as session:
        have = session.scalar(select(func.count()).select_from(PaperRow)) or 0
        last = session.scalar(select(func.max(PaperRow.id))) or 0
    while have < size:
        count = min(have, size - have, 50_000)
        with sessions.begin() as session:
            # Copies of the oldest papers under the next ids, with their dates: the newest
            # papers (a digest's candidates) stay papers of their own.
            params = {"offset": last, "low": 0, "high": count}
            session.execute(_COPY_PAPERS, params)
            session.execute(_COPY_TERMS, params)
            for statement in _INDEX_COPIES:
                session.execute(statement, params)
        have, last = have + count, last + count
        print(
            f"  copied up to {have:,} papers in {time.perf_counter() - started:.0f} s", flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, help="keep the library here (default: temp)")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--copy-to", type=int, help="then grow the library to this size with copies of its papers"
    )
    parser.add_argument("--code", type=Path, help="run the commands with this checkout's code")
    parser.add_argument(
        "--only",
        choices=("preview", "search", "run"),
        nargs="+",
        default=["preview", "search", "run"],
    )
    parser.add_argument("--run-timeout", type=float, default=1800.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{workdir / 'memory-bench.db'}"
        engine = db.make_engine(url)
        db.upgrade(engine)
        sessions = db.make_sessions(engine)
        start = time.perf_counter()
        build(sessions, args.papers, args.subscribers, args.copy_to)
        print(f"library ready in {time.perf_counter() - start:.0f} s", flush=True)
        if args.build_only:
            return
        code = f" with the code in {args.code}" if args.code else ""
        print(
            f"{max(args.papers, args.copy_to or 0):,} papers, {args.subscribers:,} "
            f"subscribers{code}; load {load()}"
        )
        if "preview" in args.only:
            print("preview --keyword K:          time    peak RSS   first line")
            for kind, keyword in PREVIEWS:
                keyword = keyword or method_name(args.papers // 2)
                found = command(["preview", "-k", keyword], url, args.code)
                print(
                    f"  {kind:<12} {keyword:<24} {found.seconds:6.1f} s {found.peak_mb:7.0f} MB"
                    f"   {found.first_line[:60]}",
                    flush=True,
                )
        if "search" in args.only:
            print("search Q:")
            for query in SEARCHES:
                found = command(["search", query], url, args.code)
                print(f"  {query:<37} {found.seconds:6.1f} s {found.peak_mb:7.0f} MB", flush=True)
        if "run" in args.only:
            found, done = digest_run(sessions, url, args.code, args.run_timeout)
            print(
                f"run, a digest run to {done:,} of {args.subscribers:,} chats: "
                f"{found.seconds:6.1f} s {found.peak_mb:7.0f} MB peak RSS"
            )
        print(f"machine load (1-minute average) {load()} at the end, on {os.cpu_count()} CPUs")
        engine.dispose()


if __name__ == "__main__":
    main()
