"""Ingest throughput, and what the content-hash skip saves on a re-ingest.

Builds a synthetic corpus from the seed pages (titles and abstracts recombined into new
papers, with the seeds' share of repeats across pages), then times in one run:
  - a first ingest into an empty database (baseline),
  - a re-ingest of the same pages (every page skipped by its content hash),
  - a re-ingest with the skip defeated (every page parsed and merged again).
Figures are medians over --repeat runs, each on a fresh database.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot import ingest
from bot.fetch import FetchPolicy
from bot.records import Paper
from bot.sources import parse_page
from storage import db, queries

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


def timed_ingest(sessions: sessionmaker[Session], sources: list[str], force: bool) -> float:
    start = time.perf_counter()
    ingest.ingest_all(sessions, sources, FetchPolicy(), force=force)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    args = parser.parse_args()

    rng = random.Random(42)
    texts = synthetic_pages(args.seeds, args.pages, args.per_page, rng)
    first: list[float] = []
    skipped: list[float] = []
    reparsed: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        sources = []
        for number, text in enumerate(texts):
            path = Path(tmp) / f"page{number:04d}.txt"
            path.write_text(text, encoding="utf-8")
            sources.append(str(path))
        for run in range(args.repeat):
            engine = db.make_engine(f"sqlite:///{tmp}/bench{run}.db")
            db.upgrade(engine)
            sessions = db.make_sessions(engine)
            first.append(timed_ingest(sessions, sources, force=False))
            skipped.append(timed_ingest(sessions, sources, force=False))
            reparsed.append(timed_ingest(sessions, sources, force=True))
            with sessions() as session:
                papers = queries.stats(session).papers
            engine.dispose()

    entries = args.pages * args.per_page
    base = statistics.median(first)
    print(f"corpus: {args.pages} pages, {entries} entries, {papers} distinct papers")
    print(f"medians over {args.repeat} runs, each on a fresh SQLite database:")
    for label, times in (
        ("first ingest (baseline)", first),
        ("re-ingest, hash skip", skipped),
        ("re-ingest, parse + merge", reparsed),
    ):
        median = statistics.median(times)
        print(
            f"  {label:<26} {median:8.3f} s  {entries / median:>10,.0f} entries/s"
            f"  {median / base:6.3f}x baseline"
        )


if __name__ == "__main__":
    main()
