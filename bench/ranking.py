"""Recommendation speed and memory: the "Recommended for you" part of a digest run for many
subscribers over the newest papers, each chat with a library of its own.

A store of the seed papers plus NEW synthetic new papers (seed titles and abstracts
recombined), SUBSCRIBERS chats each with a library of LIBRARY random seed papers. Timed:
  - vectors: the sentence vectors of the store's papers (when the model is installed), as
    the scheduled ingest makes them for new papers;
  - fit: fitting one chat's ranker (paperboy, once per change of its feedback), median;
  - score: recommendations for every chat from its stored ranker, as a digest run does;
  - baseline: arxiv-sanity-lite's way, a LinearSVC fitted per chat at digest time over the
    same tf-idf matrix (measured on a sample, per chat, and projected to every chat).
Peak resident memory of the process is reported after the scoring pass.

    python -m bench.ranking [--subscribers 10000] [--new 1000] [--sample 200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.svm import LinearSVC

from bot import cli, recommendations
from bot.records import Paper
from storage import db, feedback, queries, subscriptions
from storage.identity import title_key

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
LIBRARY = 20
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _synthetic(seed_papers: list[Paper], count: int, rng: random.Random) -> list[Paper]:
    """New papers recombined from the seeds: one paper's title with another's sentences."""
    made = []
    for n in range(count):
        first, second = rng.sample(seed_papers, 2)
        sentences = (first.abstract + " " + second.abstract).split(". ")
        rng.shuffle(sentences)
        made.append(Paper(f"{first.title} ({n})", ". ".join(sentences[:8])))
    return made


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _resident_mb() -> float:
    """What the process holds now (its peak is _rss_mb)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # not Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args()
    if not SEEDS.is_dir():
        raise SystemExit(f"needs the seed pages in {SEEDS}")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        os.environ["PAPERBOY_DATABASE_URL"] = url
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["ingest", *map(str, sorted(SEEDS.glob("*.txt")))])
        sessions = db.make_sessions(db.make_engine(url))
        with sessions.begin() as session:
            seeds = [paper for _, paper in subscriptions.newest_papers(session, 10_000)]
            seed_ids = [paper_id for paper_id, _ in subscriptions.newest_papers(session, 10_000)]
            queries.store_papers(session, _synthetic(seeds, args.new, rng), NOW)
        by_id = dict(zip(seed_ids, seeds, strict=True))
        print(f"store: {len(seeds)} seed papers + {args.new} new; {args.subscribers} chats")
        start = time.perf_counter()
        with sessions.begin() as session:
            for chat in range(1, args.subscribers + 1):
                row = subscriptions.enroll(session, chat, "private", NOW)
                picked = rng.sample(seed_ids, LIBRARY)
                entries = [
                    feedback.LibraryRecord(
                        by_id[i].title, title_key(by_id[i].title), by_id[i].abstract, None, i
                    )
                    for i in picked
                ]
                feedback.add_library(session, row.id, entries, NOW)
        print(f"setup: libraries stored in {time.perf_counter() - start:.1f} s")

        before = _resident_mb()
        start = time.perf_counter()
        made = recommendations.prepare(sessions)
        took = time.perf_counter() - start
        if made:
            print(
                f"sentence vectors of {made} papers: {took:.1f} s ({took / made * 1000:.0f} ms "
                "a paper; made once per paper, after the ingest that brought it)"
            )
            print(
                f"resident memory: {before:.0f} MB before making them, {_resident_mb():.0f} MB "
                f"after (the model's pages given back); peak so far {_rss_mb():.0f} MB"
            )
        else:
            print("no sentence model (`paperboy model fetch`): words alone")
        with sessions() as session:
            pool = recommendations.pool(session)
        features = pool.features
        assert features is not None
        fit_times = []
        with sessions.begin() as session:
            for chat in range(1, args.sample + 1):
                found_row = subscriptions.find(session, chat)
                assert found_row is not None
                began = time.perf_counter()
                recommendations.model(session, found_row.id, features, NOW)
                fit_times.append(time.perf_counter() - began)
            # (Subscriber ids are the chat ids: enrolled in that order into an empty store.)
            # Every other chat gets a sampled chat's ranker: scoring costs the same for any.
            stored = feedback.profiles(session, list(range(1, args.sample + 1)))
            models = list(stored.values())
        engine = sessions.kw["bind"]
        for chat in range(args.sample + 1, args.subscribers + 1):
            with sessions() as session:
                learnt = feedback.feedback(session, chat)
            feedback.keep_profile(engine, chat, models[chat % len(models)], NOW, learnt)

        start = time.perf_counter()
        found = 0
        with sessions() as session:
            for chat in range(1, args.subscribers + 1):
                found += len(
                    recommendations.recommend(session, chat, pool, NOW, 3, positive_only=True)
                )
        score_total = time.perf_counter() - start
        rss = _rss_mb()

        baseline_times = []
        matrix = features.matrix
        for _ in range(args.sample):
            positives = {features.row[i] for i in rng.sample(seed_ids, LIBRARY)}
            y = np.array([1 if n in positives else 0 for n in range(matrix.shape[0])])
            began = time.perf_counter()
            svm = LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
            svm.fit(matrix, y).decision_function(matrix)
            baseline_times.append(time.perf_counter() - began)

    fit_ms = statistics.median(fit_times) * 1000
    base_ms = statistics.median(baseline_times) * 1000
    print(f"fit one chat's ranker (median of {args.sample}): {fit_ms:.1f} ms")
    print(
        f"recommendations for {args.subscribers} chats from stored rankers: {score_total:.1f} s "
        f"({score_total / args.subscribers * 1000:.2f} ms a chat, {found} papers)"
    )
    print(
        f"arxiv-sanity-lite's way, an SVM fitted per chat at digest time (median of "
        f"{args.sample}): {base_ms:.1f} ms a chat, {base_ms * args.subscribers / 1000:.0f} s "
        f"projected for {args.subscribers} chats"
    )
    print(f"peak resident memory: {rss:.0f} MB (pid {os.getpid()})")


if __name__ == "__main__":
    main()
