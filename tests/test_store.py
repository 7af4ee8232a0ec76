"""Identity and dedupe in the paper store, and one transaction per page."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.records import Paper
from bot.sources import parse_page
from storage import db, queries
from storage.identity import title_key
from storage.models import PaperRow
from storage.search_index import TERMS_TABLE, terms_row
from tests.test_search import assert_indexes_intact

NOW = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)


def store(sessions: sessionmaker[Session], papers: list[Paper]) -> queries.StoreCounts:
    with sessions.begin() as session:
        return queries.store_papers(session, papers, NOW)


def paper_rows(sessions: sessionmaker[Session]) -> list[PaperRow]:
    with sessions() as session:
        return list(session.scalars(select(PaperRow).order_by(PaperRow.id)))


def seed_papers(seed_pages: list[Path]) -> list[list[Paper]]:
    return [list(parse_page(path.read_bytes()).papers) for path in seed_pages]


def test_title_key_folds_case_unicode_and_punctuation() -> None:
    assert title_key("PowerNorm: Rethinking  Batch-Normalization") == title_key(
        "powernorm rethinking batch normalization"
    )
    # Fullwidth letters, an em dash and a Unicode hyphen fold to their plain forms.
    assert title_key("\uff22\uff25\uff32\uff34 \u2014 Pre\u2010training") == "bert pre training"
    assert title_key("Straße") == title_key("STRASSE")
    assert title_key("?!") != title_key("...")
    assert title_key("Spiking Graph Convolutional Networks") != title_key(
        "Simplifying Graph Convolutional Networks"
    )


def test_seeds_give_504_papers(sessions: sessionmaker[Session], seed_pages: list[Path]) -> None:
    pages = seed_papers(seed_pages)
    counts = [store(sessions, page) for page in pages]
    assert sum(c.parsed for c in counts) == 603
    assert sum(c.new for c in counts) == 504
    assert all(c.parsed == c.new + c.known + c.enriched for c in counts)
    assert len(paper_rows(sessions)) == 504


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_order_any_number_of_times(
    sessions: sessionmaker[Session], seed_pages: list[Path], seed: int
) -> None:
    pages = seed_papers(seed_pages)
    order = [*pages, *pages[:2]]
    random.Random(seed).shuffle(order)
    for page in order:
        store(sessions, page)
    again = [store(sessions, page) for page in pages]
    assert sum(c.new for c in again) == 0
    assert len(paper_rows(sessions)) == 504


def test_entries_shuffled_across_pages(
    sessions: sessionmaker[Session], seed_pages: list[Path]
) -> None:
    entries = list(itertools.chain.from_iterable(seed_papers(seed_pages)))
    random.Random(7).shuffle(entries)
    store(sessions, entries)
    assert len(paper_rows(sessions)) == 504


def test_similar_titles_stay_two_papers(sessions: sessionmaker[Session]) -> None:
    store(
        sessions,
        [
            Paper(title="Spiking Graph Convolutional Networks", abstract="spiking"),
            Paper(title="Simplifying Graph Convolutional Networks", abstract="simplifying"),
            Paper(title="Simplifying graph convolutional networks.", abstract="same paper"),
        ],
    )
    assert sorted(row.title for row in paper_rows(sessions)) == [
        "Simplifying Graph Convolutional Networks",
        "Spiking Graph Convolutional Networks",
    ]


def test_paper_seen_without_id_then_with_one_is_enriched(sessions: sessionmaker[Session]) -> None:
    store(sessions, [Paper(title="Stitchable Neural Networks", abstract="short")])
    counts = store(
        sessions,
        [
            Paper(
                title="Stitchable neural networks",
                abstract="a much longer abstract than before",
                arxiv_id="2302.06586",
                authors=("Zizheng Pan", "Jianfei Cai"),
                published=date(2023, 2, 13),
                upvotes=3,
                code_url="https://github.com/ziplab/SN-Net",
                categories=("cs.LG",),
            )
        ],
    )
    assert counts == queries.StoreCounts(parsed=1, new=0, known=0, enriched=1)
    [row] = paper_rows(sessions)
    assert row.title == "Stitchable Neural Networks"
    assert row.arxiv_id == "2302.06586"
    assert row.abstract == "a much longer abstract than before"
    assert row.authors == ["Zizheng Pan", "Jianfei Cai"]
    assert (row.published, row.upvotes, row.categories) == (date(2023, 2, 13), 3, ["cs.LG"])
    # A later sighting without the id, with less, changes nothing and still finds the paper.
    counts = store(
        sessions, [Paper(title="Stitchable Neural Networks", abstract="short", upvotes=1)]
    )
    assert counts == queries.StoreCounts(parsed=1, new=0, known=1, enriched=0)
    assert len(paper_rows(sessions)) == 1


def test_same_title_different_ids_are_two_papers(sessions: sessionmaker[Session]) -> None:
    store(sessions, [Paper(title="HyperNetworks", arxiv_id="1609.09106")])
    store(sessions, [Paper(title="HyperNetworks", arxiv_id="2306.06955")])
    store(sessions, [Paper(title="HyperNetworks")])
    assert sorted(str(r.arxiv_id) for r in paper_rows(sessions)) == ["1609.09106", "2306.06955"]


def test_a_page_stored_in_batches_is_stored_as_in_one(
    sessions: sessionmaker[Session], seed_pages: list[Path]
) -> None:
    papers = [paper for page in seed_papers(seed_pages) for paper in page]
    finished: list[queries.StoreCounts] = []
    counts = queries.store_in_batches(
        sessions, papers, NOW, lambda session, counts: finished.append(counts), batch=7
    )
    # The same papers as one transaction stores (test_seeds_give_504_papers), counted alike.
    assert counts == finished[0]
    assert (counts.parsed, counts.new) == (len(papers), 504)
    assert len(paper_rows(sessions)) == 504
    again = queries.store_in_batches(sessions, papers, NOW, lambda session, counts: None)
    assert (again.new, again.known + again.enriched) == (0, len(papers))


def test_batches_commit_one_by_one(sessions: sessionmaker[Session]) -> None:
    papers = [Paper(f"Batched paper {n}", "An abstract.") for n in range(10)]

    def fail(session: Session, counts: queries.StoreCounts) -> None:
        raise OSError("disk full")

    # A page of one batch is stored whole or not at all...
    with pytest.raises(OSError, match="disk full"):
        queries.store_in_batches(sessions, papers, NOW, fail, batch=10)
    assert paper_rows(sessions) == []
    # ...a longer one keeps the batches committed before the failure: the write lock was let
    # go between them.
    with pytest.raises(OSError, match="disk full"):
        queries.store_in_batches(sessions, papers, NOW, fail, batch=4)
    assert [row.title for row in paper_rows(sessions)] == [p.title for p in papers[:8]]


def test_enrichment_is_seen_by_a_session_holding_the_paper(
    sessions: sessionmaker[Session],
) -> None:
    # Enriched papers are written back with one UPDATE, past the ORM: a copy the caller's
    # session already holds must not keep the old values.
    store(sessions, [Paper("Pruning at Scale", "Short.")])
    later = datetime(2026, 3, 12, tzinfo=UTC)
    with sessions.begin() as session:
        held = session.scalars(select(PaperRow)).one()
        assert held.abstract == "Short."
        sighting = Paper("Pruning at Scale", "A longer abstract.", "2403.00001", authors=("A B",))
        counts = queries.store_papers(session, [sighting], later)
        assert counts == queries.StoreCounts(1, 0, 0, 1)
        assert (held.abstract, held.arxiv_id, held.authors) == (
            "A longer abstract.",
            "2403.00001",
            ["A B"],
        )
        assert held.updated_at == later
        assert held.first_seen_at == NOW


def another_writer_first(engine: Engine, statement: str, write: Callable[[], object]) -> None:
    """Runs `write` (another connection's transaction, committed) just before this engine's
    first statement starting with `statement`: another process writing at that moment."""
    fired: list[bool] = []

    def hook(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if sql.startswith(statement) and not fired:
            fired.append(True)
            write()

    event.listen(engine, "before_cursor_execute", hook)


def test_papers_inserted_by_a_concurrent_ingest_do_not_fail_this_one(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # Two ingests at once (the bot's scheduler and `paperboy ingest`): the other commits
    # new papers after this one read what is stored but before it inserts its own. On
    # SQLite its ids were read back as "those above the largest before": the other's too.
    other_engine = db.make_engine(engine.url.render_as_string(hide_password=False))
    other = db.make_sessions(other_engine)
    try:
        another_writer_first(
            engine, "INSERT INTO papers ", lambda: store(other, [Paper("Written meanwhile", "")])
        )
        ours = [Paper("Our first paper", "On pruning."), Paper("Our second paper", "")]
        assert store(sessions, ours) == queries.StoreCounts(2, 2, 0, 0)
    finally:
        other_engine.dispose()
    titles = [row.title for row in paper_rows(sessions)]
    assert titles == ["Written meanwhile", "Our first paper", "Our second paper"]
    assert_indexes_intact(sessions)


def test_an_enrichment_committed_meanwhile_by_another_ingest_is_kept(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # Two ingests enrich one stored paper at once, each with something else: this one a
    # longer abstract, the other (committed after this one read the paper) its authors.
    # Writing back every column of the paper as read would undo the other's enrichment.
    store(sessions, [Paper("Pruning at Scale", "Short.", "2403.00001")])
    other_engine = db.make_engine(engine.url.render_as_string(hide_password=False))
    other = db.make_sessions(other_engine)
    authors = Paper("Pruning at Scale", "", "2403.00001", authors=("Ada Lovelace",))
    try:
        another_writer_first(engine, "UPDATE papers ", lambda: store(other, [authors]))
        longer = Paper("Pruning at Scale", "A much longer abstract.", "2403.00001")
        assert store(sessions, [longer]) == queries.StoreCounts(1, 0, 0, 1)
    finally:
        other_engine.dispose()
    [row] = paper_rows(sessions)
    assert (row.abstract, row.authors) == ("A much longer abstract.", ["Ada Lovelace"])
    assert_indexes_intact(sessions)


@pytest.mark.backends("sqlite")
def test_new_papers_past_sqlites_largest_id_are_indexed_under_their_own_ids(
    sessions: sessionmaker[Session],
) -> None:
    # An imported file may hold a paper with the largest id SQLite has: new rows then get
    # random free ids, not the ones after the largest, and must still be found.
    largest = 2**63 - 1
    with sessions.begin() as session:
        imported = {"id": largest, "title": "Imported", "title_key": "imported"}
        stamps = {"first_seen_at": NOW, "updated_at": NOW}
        session.execute(insert(PaperRow), [imported | stamps])
    ours = [Paper("Our first paper", "On pruning."), Paper("Our second paper", "On sparsity.")]
    assert store(sessions, ours) == queries.StoreCounts(2, 2, 0, 0)
    with sessions() as session:
        ids = dict(session.execute(select(PaperRow.title, PaperRow.id)).all())
        terms = session.execute(text(f"SELECT id, title_exact FROM {TERMS_TABLE}")).all()
    assert dict(terms) == {
        ids[p.title]: terms_row(ids[p.title], p.title, p.abstract)["title_exact"] for p in ours
    }


def test_a_paper_stored_meanwhile_by_another_ingest_is_found_not_a_failure(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # Two ingests of the same new paper at once: the other commits it after this one found
    # it missing, before this one inserts it. This batch's insert then broke a unique index
    # and its page failed; stored again, the paper is found known.
    other_engine = db.make_engine(engine.url.render_as_string(hide_password=False))
    other = db.make_sessions(other_engine)
    shared = Paper("Pruning at Scale", "We prune.", "2403.00001")
    try:
        another_writer_first(engine, "INSERT INTO papers ", lambda: store(other, [shared]))
        page = [Paper("Our own paper", "On sparsity."), shared]
        finished: list[queries.StoreCounts] = []
        counts = queries.store_in_batches(
            sessions, page, NOW, lambda session, counts: finished.append(counts)
        )
    finally:
        other_engine.dispose()
    assert counts == queries.StoreCounts(2, 1, 1, 0)
    assert finished == [counts]
    titles = [row.title for row in paper_rows(sessions)]
    assert titles == ["Pruning at Scale", "Our own paper"]
    assert_indexes_intact(sessions)
