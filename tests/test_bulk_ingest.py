"""Ingest in bulk (issue 10): short pages stored together, new papers indexed per batch,
and the same papers, counts, indexes and vocabulary as storing page by page gives."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot import analysis, ingest
from bot.fetch import FetchPolicy
from bot.records import Paper
from bot.sources.text import squash
from storage import db, queries, search_index, transfer
from storage.models import PaperRow, SourceRow
from tests.conftest import new_postgres_database
from tests.test_search import assert_indexes_intact, counted, everything, recounted, row

NOW = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)


def pages(seed_pages: list[Path], folder: Path) -> list[str]:
    """The seed pages, one of them twice under another name and then changed (a longer
    abstract: an enrichment that re-indexes a stored paper)."""
    folder.mkdir()
    sources = []
    for path in seed_pages:
        sources.append(str(shutil.copy(path, folder / path.name)))
    copy = folder / "copy.txt"
    copy.write_bytes(seed_pages[0].read_bytes())
    sources.append(str(copy))
    text_ = seed_pages[1].read_text(encoding="utf-8")
    first_abstract = text_.split("\n\n")[6]
    longer = folder / "longer.txt"
    longer.write_text(text_.replace(first_abstract, first_abstract + " And more."), "utf-8")
    sources.append(str(longer))
    return sources


def outcome(sessions: sessionmaker[Session]) -> tuple[list[tuple[str, str]], Any]:
    with sessions() as session:
        rows = session.execute(select(PaperRow.title, PaperRow.abstract).order_by(PaperRow.id))
        return [(row.title, row.abstract) for row in rows], counted(sessions)


@dataclass(frozen=True)
class OneByOne:
    """What ingesting sources page by page gave, on SQLite: the reference for batched ingest."""

    reports: list[ingest.SourceReport]
    outcome: tuple[list[tuple[str, str]], Any]
    recent_ids: list[int]
    source_rows: list[tuple[object, ...]]


@pytest.fixture(scope="module")
def page_sources(seed_pages: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The pages of pages(), written once for the module: the references below are kept
    per list of locations."""
    return pages(seed_pages, tmp_path_factory.mktemp("bulk") / "pages")


@pytest.fixture(scope="module")
def one_by_one(
    migrated_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[list[str]], OneByOne]:
    """Sources ingested one by one into a database of their own, once per list of sources
    for the module (the reference is the same for every backend and batch size)."""
    done: dict[tuple[str, ...], OneByOne] = {}

    def reference(sources: list[str]) -> OneByOne:
        if tuple(sources) not in done:
            path = tmp_path_factory.mktemp("alone") / "paperboy.db"
            shutil.copy(migrated_template, path)
            alone = db.make_engine(f"sqlite:///{path}")
            sessions = db.make_sessions(alone)
            reports = [
                ingest.ingest_source(sessions, source, FetchPolicy(), now=NOW) for source in sources
            ]
            done[tuple(sources)] = OneByOne(
                reports, outcome(sessions), recent_ids(sessions), source_rows(sessions)
            )
            alone.dispose()
        return done[tuple(sources)]

    return reference


def test_pages_stored_together_are_stored_as_one_by_one(
    sessions: sessionmaker[Session],
    page_sources: list[str],
    one_by_one: Callable[[list[str]], OneByOne],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = page_sources
    alone = one_by_one(sources)
    transactions: list[int] = []
    store_pages = queries.store_pages

    def spied(session: Session, papers: Any, now: datetime) -> list[queries.StoreCounts]:
        transactions.append(len(papers))
        return store_pages(session, papers, now)

    monkeypatch.setattr(queries, "store_pages", spied)
    together = ingest.ingest_all(sessions, sources, FetchPolicy(), now=NOW)
    # Fewer transactions than pages; the same report for each page, in order.
    assert len(transactions) < len(sources) - 1
    assert together == alone.reports
    assert [r.status for r in together] == ["ingested"] * 5 + ["unchanged", "ingested"]
    assert together[-1].enriched == 1
    # The same papers, in the same order, and vocabulary counts as exact as a recount.
    assert outcome(sessions) == alone.outcome
    assert counted(sessions) == recounted(sessions)
    assert_indexes_intact(sessions)


def refuse_to_record(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """The database refuses to record that the page at `bad` was ingested."""
    record = queries.record_source_ingested

    def refuse(session: Session, location: str, **fields: Any) -> None:
        if location == bad:
            raise OSError("disk full")
        record(session, location, **fields)

    monkeypatch.setattr(queries, "record_source_ingested", refuse)


def test_a_page_the_database_refuses_fails_alone(
    sessions: sessionmaker[Session], seed_pages: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_to_record(monkeypatch, str(seed_pages[1]))
    sources = [str(path) for path in seed_pages[:3]]
    reports = ingest.ingest_all(sessions, sources, FetchPolicy(), now=NOW)
    assert [r.status for r in reports] == ["ingested", "failed", "ingested"]
    assert reports[1].error == "unexpected error: OSError: disk full"
    # The pages beside it were stored once each, as if it had not been there.
    assert (reports[0].new, reports[2].parsed) == (72, 210)
    with sessions() as session:
        assert queries.stats(session).papers == reports[0].new + reports[2].new
    assert_indexes_intact(sessions)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_recent_index_keeps_the_newest_papers_batch_by_batch(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "RECENT", 5)
    papers = [Paper(f"Batched zebrafish {n}", f"Zebrafish swim {n} laps.") for n in range(13)]
    queries.store_in_batches(sessions, papers, NOW, lambda session, counts: None, batch=3)
    with sessions() as session:
        recent = session.scalars(text("SELECT id FROM papers_fts_recent_docsize ORDER BY id"))
        assert list(recent) == [9, 10, 11, 12, 13]
        # Every paper in the full index, and the recent index agrees with its texts.
        for index in ("papers_fts", "papers_fts_titles"):
            check = f"INSERT INTO {index}({index}, rank) VALUES ('integrity-check', 1)"
            session.execute(text(check))
        found = session.scalars(
            text("SELECT rowid FROM papers_fts_recent WHERE papers_fts_recent MATCH 'zebrafish'")
        )
        assert sorted(found) == [9, 10, 11, 12, 13]


@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
def test_migration_0009_takes_the_insert_trigger_and_gives_it_back(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    db.upgrade(engine)
    trigger = text("SELECT count(*) FROM sqlite_master WHERE name = 'papers_fts_insert'")
    with engine.connect() as connection:
        assert connection.scalar(trigger) == 0
    command.downgrade(db.alembic_config(engine), "0008")
    with engine.begin() as connection:
        assert connection.scalar(trigger) == 1
        connection.execute(
            text(
                "INSERT INTO papers (id, title, title_key, abstract, authors, categories, "
                "keywords, first_seen_at, updated_at) VALUES (1, 'Zebrafish', 'zebrafish', "
                "'Swim.', '[]', '[]', '[]', '2026-03-11', '2026-03-11')"
            )
        )
        search_index.upsert_terms(connection, [search_index.terms_row(1, "Zebrafish", "Swim.")])
        # Indexed by the trigger again, as before the migration.
        assert connection.scalar(text("SELECT count(*) FROM papers_fts_docsize")) == 1
    db.upgrade(engine)
    with engine.connect() as connection:
        assert connection.scalar(trigger) == 0
    engine.dispose()


def test_analysis_in_one_pass_gives_what_each_part_gives() -> None:
    rng = random.Random(7)
    vocabulary = ["Networks", "réseaux", "GANs", "(GAN)", "pre-trained", "3D", "x", "Straße"]
    for _ in range(200):
        title = " ".join(rng.choices(vocabulary, k=4))
        abstract = "generative adversarial networks (GANs) " + " ".join(
            rng.choices(vocabulary, k=9)
        )
        terms, found = search_index.analyse(title, abstract)
        row = search_index.terms_row(1, title, abstract)
        assert terms == (
            row["title_exact"],
            row["abstract_exact"],
            row["title_family"],
            row["abstract_family"],
        )
        words = found.counted("words")
        assert len(words) == len(set(words))
        assert set(words) == search_index.vocabulary_words(title, abstract)
        families = found.counted("families")
        assert len(families) == len(set(families))
        assert set(families) == {analysis.family(word) for word in words}


def test_a_clean_field_is_kept_not_copied() -> None:
    field = " ".join(["A clean abstract of many words."] * 20)
    assert squash(field) is field
    assert squash(field + "  ") == field


def library(sessions: sessionmaker[Session]) -> list[tuple[str | None, str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(PaperRow.arxiv_id, PaperRow.title, PaperRow.abstract).order_by(PaperRow.id)
        )
        return [(row.arxiv_id, row.title, row.abstract) for row in rows]


def stored_both_ways(
    sessions: sessionmaker[Session], tmp_path: Path, before: list[Paper], pages_: list[list[Paper]]
) -> tuple[Any, Any]:
    """The library, vocabulary and counts after storing `before`, then pages together, and
    the same for pages stored one by one (on SQLite)."""
    alone = db.make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    db.upgrade(alone)
    one_by_one = db.make_sessions(alone)
    for target in (sessions, one_by_one):
        with target.begin() as session:
            queries.store_papers(session, before, NOW)
    counts_alone = []
    for page in pages_:
        with one_by_one.begin() as session:
            counts_alone.append(queries.store_papers(session, page, NOW))
    with sessions.begin() as session:
        counts_together = queries.store_pages(session, pages_, NOW)
    expected = (library(one_by_one), counted(one_by_one), counts_alone)
    alone.dispose()
    assert counted(sessions) == recounted(sessions)
    assert_indexes_intact(sessions)
    return (library(sessions), counted(sessions), counts_together), expected


def test_a_title_without_an_id_enriches_the_oldest_paper_of_that_title(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # A stored paper, then a new one of the same title with another id: a later sighting
    # without an id enriches the oldest of the two, whether the new one came in an earlier
    # transaction or the same one.
    title = "Zebrafish swim in schools"
    before = [Paper(title, "Short.", arxiv_id="2401.00001")]
    pages_ = [
        [Paper(title, "Another.", arxiv_id="2401.00002")],
        [Paper(title, "A much longer abstract about zebrafish schools.")],
    ]
    together, expected = stored_both_ways(sessions, tmp_path, before, pages_)
    assert together == expected


T, U = "Zebrafish swim in schools", "Medaka swim alone"
SCENARIOS = {
    "same id twice": ([], [[Paper(T, "Short.", "2401.1")], [Paper(T, "Longer text.", "2401.1")]]),
    "id comes later": ([], [[Paper(T, "Short.")], [Paper(T, "Longer zebrafish.", "2401.1")]]),
    "id then none": ([], [[Paper(T, "Short.", "2401.1")], [Paper(T, "Longer zebrafish.")]]),
    "id later under another title": (
        [],
        [
            [Paper(T, "Short.")],
            [Paper(T, "Short.", "2401.1")],
            [Paper(U, "Longer text.", "2401.1")],
        ],
    ),
    "stored, enriched twice": (
        [Paper(T, "Short.", "2401.1")],
        [[Paper(T, "Longer (ZS) text.", "2401.1")], [Paper(T, "Zebrafish schools (ZS) longest.")]],
    ),
    "stored without id, two ids": (
        [Paper(T, "Short.")],
        [[Paper(T, "Longer text.", "2401.1")], [Paper(T, "Short.", "2401.2")], [Paper(T, "")]],
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_repeats_across_pages_stored_together(
    sessions: sessionmaker[Session], tmp_path: Path, scenario: str
) -> None:
    before, pages_ = SCENARIOS[scenario]
    together, expected = stored_both_ways(sessions, tmp_path, before, pages_)
    assert together == expected


QUERIES = ("graph", "hypernetworks", "diffusion models", "attention", "language model")


def test_migrations_0009_and_0010_down_and_up_keep_search_as_it_was(
    engine: Engine, sessions: sessionmaker[Session], seed_pages: list[Path]
) -> None:
    ingest.ingest_all(sessions, [str(path) for path in seed_pages], FetchPolicy(), now=NOW)
    found = {query: everything(sessions, query) for query in QUERIES}
    vocabulary = counted(sessions)
    command.downgrade(db.alembic_config(engine), "0008")
    db.upgrade(engine)
    assert {query: everything(sessions, query) for query in QUERIES} == found
    assert counted(sessions) == vocabulary
    assert_indexes_intact(sessions)
    # Papers stored after the round trip are indexed once each, and found.
    with sessions.begin() as session:
        queries.store_papers(session, [Paper("Graph zebrafish", "On graph zebrafish.")], NOW)
    assert everything(sessions, "graph") == found["graph"] | {"Graph zebrafish"}
    assert_indexes_intact(sessions)


def recent_ids(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        sqlite_ = session.get_bind().dialect.name == "sqlite"
        table = "papers_fts_recent_docsize" if sqlite_ else "papers_fts_recent"
        return list(session.scalars(text(f"SELECT id FROM {table} ORDER BY id")))


def test_an_import_indexes_as_ingesting_did(
    db_url: str,
    sessions: sessionmaker[Session],
    seed_pages: list[Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    ingest.ingest_all(sessions, [str(path) for path in seed_pages], FetchPolicy(), now=NOW)
    with sessions() as session:
        lines = list(transfer.export_lines(session, None, NOW))
    # Into an empty database of the same backend.
    if db_url.startswith("postgresql"):
        url = new_postgres_database(request.getfixturevalue("postgres"), None)
    else:
        url = f"sqlite:///{tmp_path / 'copy.db'}"
    copy = db.make_engine(url)
    db.upgrade(copy)
    imported = db.make_sessions(copy)
    with imported.begin() as session:
        transfer.import_lines(session, lines)
    for query in QUERIES:
        assert everything(imported, query) == everything(sessions, query)
    assert counted(imported) == counted(sessions)
    assert recent_ids(imported) == recent_ids(sessions)
    assert_indexes_intact(imported)
    copy.dispose()


def source_rows(sessions: sessionmaker[Session]) -> list[tuple[object, ...]]:
    columns = [
        column
        for column in SourceRow.__table__.columns
        if column.name not in ("id", "last_error_at", "last_checked_at", "last_ingested_at")
    ]
    with sessions() as session:
        return [tuple(row) for row in session.execute(select(*columns).order_by(columns[0]))]


@pytest.mark.parametrize("store_batch", [1, 100, 300])
def test_pages_grouped_at_any_size_are_stored_as_one_by_one(
    sessions: sessionmaker[Session],
    page_sources: list[str],
    one_by_one: Callable[[list[str]], OneByOne],
    monkeypatch: pytest.MonkeyPatch,
    store_batch: int,
) -> None:
    missing = str(Path(page_sources[0]).parent / "missing.txt")
    # The same location twice, the second time after others, and an unreadable one between.
    sources = [*page_sources[:3], missing, page_sources[0], *page_sources[3:]]
    alone = one_by_one(sources)
    monkeypatch.setattr(queries, "STORE_BATCH", store_batch)
    together = ingest.ingest_all(sessions, sources, FetchPolicy(), now=NOW)
    assert together == alone.reports
    assert outcome(sessions) == alone.outcome
    assert recent_ids(sessions) == alone.recent_ids
    assert source_rows(sessions) == alone.source_rows
    assert counted(sessions) == recounted(sessions)
    assert_indexes_intact(sessions)


def test_a_batch_across_the_recent_window_with_enriched_papers_at_its_edge(
    sessions: sessionmaker[Session],
) -> None:
    # Papers 1-5, then one at id 49,998: the next batch's five new papers (49,999-50,003)
    # push papers 1-3 out of the newest 50,000, while papers 3 and 4, at the window's edge,
    # are enriched (re-indexed) in the same batch.
    old = [Paper(f"Zebrafish study {n}", f"Zebrafish {n}.") for n in range(1, 6)]
    with sessions.begin() as session:
        queries.store_papers(session, old, NOW)
        session.execute(insert(PaperRow), [row("Zebrafish study 49998", "Zebrafish.", id=49_998)])
        search_index.insert_terms(session, [(49_998, "Zebrafish study 49998", "Zebrafish.")])
        counted_ = search_index.indexed("Zebrafish study 49998", "Zebrafish.")
        search_index.update_vocabulary(session, [(None, counted_)])
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT setval('papers_id_seq', 49998)"))
    batch = [Paper(f"Zebrafish study {n}", f"Zebrafish {n}, at length.") for n in (3, 4)]
    batch += [Paper(f"Zebrafish study {n}", "Zebrafish.") for n in range(49_999, 50_004)]
    with sessions.begin() as session:
        assert queries.store_papers(session, batch, NOW) == queries.StoreCounts(7, 5, 0, 2)
    assert recent_ids(sessions) == [4, 5, *range(49_998, 50_004)]
    assert counted(sessions) == recounted(sessions)
    assert_indexes_intact(sessions)
    assert len(everything(sessions, "zebrafish")) == 11


@pytest.fixture
def twins(seed_pages: list[Path], tmp_path: Path) -> tuple[str, str]:
    """Two locations with the same content: a seed page and a copy of it."""
    first, second = str(seed_pages[0]), str(tmp_path / "mirror.txt")
    shutil.copy(first, second)
    return first, second


def test_a_page_the_same_as_one_waiting_is_read_once(
    sessions: sessionmaker[Session],
    twins: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two locations with the same content: the second is unchanged once the first is stored,
    # from the one reading (a server need not answer a second time, or the same way).
    first, second = twins
    reads: list[str] = []
    read_source = ingest.read_source

    def once(source: str, policy: FetchPolicy) -> bytes:
        reads.append(source)
        if reads.count(source) > 1:
            raise ingest.SourceError("HTTP 503")
        return read_source(source, policy)

    monkeypatch.setattr(ingest, "read_source", once)
    reports = ingest.ingest_all(sessions, [first, second], FetchPolicy(), now=NOW)
    assert [r.status for r in reports] == ["ingested", "unchanged"]
    assert reads == [first, second]


def test_a_page_the_same_as_one_that_failed_is_stored_alone(
    sessions: sessionmaker[Session],
    twins: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = twins
    refuse_to_record(monkeypatch, first)
    reports = ingest.ingest_all(sessions, [first, second], FetchPolicy(), now=NOW)
    assert [r.status for r in reports] == ["failed", "ingested"]
    with sessions() as session:
        assert queries.stats(session).papers == reports[1].new == 72


def test_papers_sharing_a_title_are_not_all_read_for_each_page(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hostile page: thousands of papers of one title, each with its own id. Each batch
    # read every stored one and each paper sorted them all (minutes for 12,000); only the
    # oldest of a title, and those without an id, can be a sighting without a known id.
    same = [Paper("Untitled", "Text.", f"2401.{n:05d}") for n in range(60)]
    with sessions.begin() as session:
        queries.store_papers(session, same, NOW)
    loaded: list[int] = []
    load = queries._load

    def spy(session: Session, *where: Any) -> Iterator[tuple[int, Any]]:
        for paper_id, record in load(session, *where):
            loaded.append(paper_id)
            yield paper_id, record

    monkeypatch.setattr(queries, "_load", spy)
    with sessions.begin() as session:
        page = [Paper("Untitled", "Text.", "2402.00001"), Paper("Untitled", "Longer text.")]
        counts = queries.store_papers(session, page, NOW)
    # The oldest alone (no paper of that title lacks an id), which the one without an id
    # enriches.
    assert loaded == [1]
    assert counts == queries.StoreCounts(2, 1, 0, 1)
    with sessions() as session:
        enriched = session.scalars(select(PaperRow.abstract).where(PaperRow.id == 1))
        assert list(enriched) == ["Longer text."]
