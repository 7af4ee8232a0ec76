"""Peak resident memory of `paperboy preview`, `paperboy search` and a digest run of
`paperboy run` over a large library, and the time of `preview --keyword`.

One synthetic library is built (once; --workdir keeps it for the next run) as bench/search.py
builds its own: seed titles and abstract sentences recombined, a made-up method name per
paper, inserted through storage code so that the search indexes and vocabulary are kept as
in production. Papers also get authors and arXiv categories, and were first stored over the
years before now, 500 a day, as a real library's were. --subscribers private chats are
subscribed to one to three keywords each (bench/delivery.py's), all due for a digest.

Each command then runs in a child process of its own, and its peak resident set size is
read from the kernel's accounting of that child (os.wait4's ru_maxrss):
  - `paperboy preview --keyword K` for keywords of several kinds (a common topic word, a
    phrase, a typo, an acronym, a method name that one paper uses, a category filter);
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
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.delivery import KEYWORDS
from bench.search import SEEDS, Corpus
from bot.records import Paper
from storage import db, queries, subscriptions
from storage.models import PaperRow, SubscriberRow

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


def build(sessions: sessionmaker[Session], size: int, chats: int, log: bool = True) -> None:
    """Grow the library to `size` papers and subscribe `chats` chats, if not done already."""
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
            if log and (start // BATCH) % 20 == 0:
                elapsed = time.perf_counter() - start_time
                print(f"  built {start + len(batch):,} papers in {elapsed:.0f} s", flush=True)
    if subscribed < chats:
        rng = random.Random(7)
        with sessions.begin() as session:
            for chat_id in range(subscribed + 1, chats + 1):
                row = subscriptions.enroll(session, chat_id, "private", now - timedelta(days=30))
                subscriptions.add_keywords(row, rng.sample(KEYWORDS, rng.randint(1, 3)))
                # Due now: the run's first tick sends every digest.
                row.next_digest_at = now - timedelta(minutes=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, help="keep the library here (default: temp)")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{workdir / 'memory-bench.db'}"
        engine = db.make_engine(url)
        db.upgrade(engine)
        start = time.perf_counter()
        build(db.make_sessions(engine), args.papers, args.subscribers)
        print(f"library ready in {time.perf_counter() - start:.0f} s", flush=True)
        engine.dispose()


if __name__ == "__main__":
    main()
