"""Papers analysed for the search index in a worker process, ahead of the batch that stores
them: on a long ingest the next batch's analysis (about half of an ingest's CPU) runs on
another core while the database writes this batch.

Only where it pays: a machine with more than one core, and an ingest that has read more
than WORTH_IT papers (a scheduled ingest of a daily page never starts a worker). The
analyses are storage.search_index.analyse's own; if the worker cannot start, fails or
dies, the papers are analysed where they are stored, as without it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from bot.records import Paper
from storage.search_index import Analysis, Prepared, analyse

log = logging.getLogger(__name__)

# Papers an ingest reads before a worker is started: starting one (a new interpreter) costs
# about what analysing a few hundred papers does, and the papers before are analysed here.
WORTH_IT = 500


def _analyse_all(texts: list[tuple[str, str]]) -> list[Analysis]:
    return [analyse(title, abstract) for title, abstract in texts]


def _worker_start(parent: int) -> None:
    # Ctrl-C reaches the whole process group: the ingest handles it and closes the worker,
    # which would otherwise die printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # An ingest killed without its cleanup (SIGTERM, SIGKILL) leaves the worker waiting for
    # work forever: it goes once its parent has.
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _nothing() -> Prepared:
    return {}


def cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Ahead:
    """One worker process, started when first worth it and stopped by close()."""

    def __init__(self, after: int = WORTH_IT, *, wanted: bool = True) -> None:
        # Papers to read before a worker is worth starting.
        self._after = after
        self._read = 0
        self._pool: ProcessPoolExecutor | None = None
        self._off = not wanted or cores() < 2

    def start(self, papers: Sequence[Paper]) -> Callable[[], Prepared]:
        """Start analysing papers; the function returned waits for their analyses (none,
        if there is no worker: they are then analysed when stored)."""
        self._read += len(papers)
        texts = list(dict.fromkeys((paper.title, paper.abstract) for paper in papers))
        if self._off or self._read <= self._after or not texts:
            return _nothing
        try:
            if self._pool is None:
                # A fresh interpreter: forking a process with threads (the bot's) can
                # copy a lock another thread holds.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    1, mp_context=context, initializer=_worker_start, initargs=(os.getpid(),)
                )
            future = self._pool.submit(_analyse_all, texts)
        except Exception as exc:
            self._give_up("could not start the analysis worker", exc)
            return _nothing
        return lambda: self._result(texts, future)

    def _result(self, texts: list[tuple[str, str]], future: Future[list[Analysis]]) -> Prepared:
        try:
            return dict(zip(texts, future.result(), strict=True))
        except Exception as exc:
            self._give_up("the analysis worker failed", exc)
            return {}

    def _give_up(self, why: str, exc: Exception) -> None:
        # Said once: work sent before the failure was known fails the same way.
        if not self._off:
            log.warning("%s (%s); papers are analysed as they are stored", why, type(exc).__name__)
        log.debug("analysis worker", exc_info=True)
        self._off = True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
