"""Analysis ahead in a worker process (bot/ahead.py): what an ingest stores with it is what
it stores without, and a worker that fails or cannot start changes nothing but the time."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot import ahead, ingest
from bot.fetch import FetchPolicy
from bot.sources import parse_page
from storage import db, queries, search_index
from tests.test_bulk_ingest import NOW, outcome, pages
from tests.test_search import assert_indexes_intact, counted, recounted


def test_analyses_made_ahead_are_the_papers_analyses(seed_pages: list[Path]) -> None:
    papers = parse_page(seed_pages[0].read_bytes()).papers
    worker = ahead.Ahead(after=0)
    try:
        made = worker.start(papers)()
    finally:
        worker.close()
    assert len(made) == len({(p.title, p.abstract) for p in papers}) > 50
    for paper in papers:
        assert comparable(made[paper.title, paper.abstract]) == comparable(
            search_index.analyse(paper.title, paper.abstract)
        )


def comparable(analysis: search_index.Analysis) -> tuple[Any, ...]:
    # The sets an analysis counts are joined in their set's order, which another process's
    # string hashing changes.
    terms, found = analysis
    return (
        terms,
        *(frozenset(found.counted(field)) for field in ("words", "families")),
        found.definitions,
    )


def test_no_worker_for_a_short_or_forced_ingest_or_a_single_core(
    seed_pages: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    papers = parse_page(seed_pages[0].read_bytes()).papers
    short = ahead.Ahead(after=len(papers))
    assert short.start(papers)() == {}
    assert short._pool is None
    unwanted = ahead.Ahead(after=0, wanted=False)  # a forced re-ingest: papers mostly known
    assert unwanted.start(papers)() == {}
    assert unwanted._pool is None
    monkeypatch.setattr(ahead, "cores", lambda: 1)
    single = ahead.Ahead(after=0)
    assert single.start(papers)() == {}
    assert single._pool is None


def analysed_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Titles of the papers storing analyses in this process."""
    titles: list[str] = []
    analyse = search_index.analyse

    def spy(title: str, abstract: str) -> search_index.Analysis:
        titles.append(title)
        return analyse(title, abstract)

    monkeypatch.setattr(queries, "analyse", spy)
    return titles


def test_an_ingest_with_a_worker_stores_what_one_page_at_a_time_does(
    sessions: sessionmaker[Session],
    seed_pages: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = pages(seed_pages, tmp_path / "pages")
    alone = db.make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    db.upgrade(alone)
    one_by_one = [
        ingest.ingest_source(db.make_sessions(alone), source, FetchPolicy(), now=NOW)
        for source in sources
    ]
    # Batches of 100: pages stored together, a page read while the one before waits, and
    # pages longer than a batch (210 and 193 papers) analysed a batch ahead as stored.
    monkeypatch.setattr(queries, "STORE_BATCH", 100)
    monkeypatch.setattr(ingest, "Ahead", partial(ahead.Ahead, 0))
    here = analysed_here(monkeypatch)
    reports = ingest.ingest_all(sessions, sources, FetchPolicy(), now=NOW)
    assert reports == one_by_one
    assert outcome(sessions) == outcome(db.make_sessions(alone))
    assert counted(sessions) == recounted(sessions)
    assert_indexes_intact(sessions)
    # The worker analysed the new papers: here only the one whose abstract grew, before.
    assert len(here) <= 2
    alone.dispose()


class _FailingPool:
    """A worker pool whose work fails as a dead worker's does, or that cannot start."""

    def __init__(self, start: bool) -> None:
        if not start:
            raise OSError("cannot fork")
        self.failures_seen = 0
        self.sent_after_a_failure = 0

    def submit(self, *args: Any) -> Future[Any]:
        self.sent_after_a_failure += self.failures_seen > 0
        pool = self

        class Failed(Future[Any]):
            def result(self, timeout: float | None = None) -> Any:
                pool.failures_seen += 1
                raise BrokenProcessPool("a worker died")

        return Failed()

    def shutdown(self, **kwargs: Any) -> None:
        pass


@pytest.mark.parametrize("start", [True, False], ids=["dies", "cannot-start"])
def test_a_failing_worker_changes_nothing_stored(
    sessions: sessionmaker[Session],
    seed_pages: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    start: bool,
) -> None:
    pools: list[_FailingPool] = []

    def pool(*args: Any, **kwargs: Any) -> _FailingPool:
        pools.append(_FailingPool(start=start))
        return pools[-1]

    monkeypatch.setattr(ahead, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(queries, "STORE_BATCH", 100)
    monkeypatch.setattr(ingest, "Ahead", partial(ahead.Ahead, 0))
    here = analysed_here(monkeypatch)
    caplog.set_level(logging.WARNING, logger="bot.ahead")
    reports = ingest.ingest_all(sessions, [str(path) for path in seed_pages], FetchPolicy())
    assert [r.status for r in reports] == ["ingested"] * 5
    assert sum(r.new for r in reports) == 504
    assert len(here) == 504
    assert counted(sessions) == recounted(sessions)
    assert_indexes_intact(sessions)
    # Said once, in one line, and no more work sent to a worker known to have failed.
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "\n" not in warnings[0]
    assert [(p.failures_seen > 0, p.sent_after_a_failure) for p in pools] == (
        [(True, 0)] if start else []
    )


def worker_pid(worker: ahead.Ahead) -> int:
    assert worker._pool is not None
    [pid] = worker._pool._processes
    return int(pid)


def test_ctrl_c_leaves_the_worker_to_the_ingest(seed_pages: list[Path]) -> None:
    # Ctrl-C reaches every process of the terminal's group: the worker, waiting for work,
    # printed a KeyboardInterrupt traceback and died. The ingest handles Ctrl-C; the worker
    # goes when it is closed.
    papers = parse_page(seed_pages[0].read_bytes()).papers
    # As in a terminal (a shell's background job, this run perhaps, ignores Ctrl-C, and so
    # would the worker it starts).
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    worker = ahead.Ahead(after=0)
    try:
        assert worker.start(papers)()
        pid = worker_pid(worker)
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 3  # time to handle the signal, were it to kill
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        assert worker.start(papers)()
    finally:
        worker.close()
        signal.signal(signal.SIGINT, before)


WORKER_OF_A_KILLED_INGEST = """
from bot import ahead
from bot.records import Paper
worker = ahead.Ahead(after=0)
worker.start([Paper("A paper", "Its abstract.")])()
print(list(worker._pool._processes)[0], flush=True)
input()
"""


def test_the_worker_goes_when_the_ingest_is_killed() -> None:
    # `kill` (SIGTERM, the default) or the OOM killer ends an ingest without its cleanup:
    # its worker waited for work forever, an orphan.
    ingest_ = subprocess.Popen(
        [sys.executable, "-c", WORKER_OF_A_KILLED_INGEST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert ingest_.stdout is not None
    pid = int(ingest_.stdout.readline())
    ingest_.kill()
    ingest_.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    gone = not Path(f"/proc/{pid}").exists()
    if not gone:
        os.kill(pid, signal.SIGKILL)
    assert gone
