"""`paperboy preview` through the search index: the same matches as matching every stored
paper, while reading only the papers a keyword could match, a batch at a time."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot import service
from bot.matching import Matcher, Phrase, _phrase_in, _phrase_search
from bot.preview import Library
from bot.records import Paper
from bot.sources import parse_page
from storage import candidates, db, queries
from tests.conftest import BACKENDS, _admin, migrated_database
from tests.postgres import Cluster

# Word families, typos (a swap, a missing letter), acronyms in capitals and lower case and
# their long forms, a compound written three ways, filters with and without words,
# exclusions and several keywords at once.
KEYWORDS: list[list[str]] = [
    ["diffusion"],
    ["quantization"],
    ["quantized"],
    ["trasnformer"],
    ["reinforcment learning"],
    ["LLM"],
    ["llms"],
    ["GNN"],
    ["large language models"],
    ["fine-tuning"],
    ["finetuning"],
    ["mixture of experts"],
    ["MoE"],
    ["3D"],
    ["cat:cs.CV diffusion"],
    ["cat:cs.CL"],
    ["diffusion", "-video"],
    ["LLM", "agent", "-survey", "-benchmark"],
    ["speech", "audio", "cat:cs.SD"],
    ["zqxjk"],
]

EXTRA = [
    # An acronym defined as something else: "CL" for curriculum learning is no match for
    # continual learning.
    Paper(
        title="Curriculum learning (CL) for small models",
        abstract="We order examples by difficulty; CL helps small models converge.",
        arxiv_id="2601.00001",
    ),
    Paper(
        title="Continual learning without forgetting",
        abstract="Continual learning (CL) keeps old tasks; CL methods forget less here.",
        arxiv_id="2601.00002",
        authors=("Wei Wang",),
        categories=("cs.LG",),
    ),
    Paper(
        title="Réseaux de neurones quantifiés: quantized transformers",
        abstract="Quantization of transformers, fine tuning with naïve schedules.",
        arxiv_id="2601.00003",
        upvotes=40,
    ),
]


@pytest.fixture(scope="module", params=BACKENDS)
def stored(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    seed_pages: list[Path],
) -> Iterator[tuple[sessionmaker[Session], Sequence[Paper]]]:
    """The seed papers and EXTRA stored once per backend: every test here only reads them."""
    papers = [paper for page in seed_pages for paper in parse_page(page.read_bytes()).papers]
    folder = tmp_path_factory.mktemp("preview")
    with migrated_database(request.param, request, folder) as url:
        engine = db.make_engine(url)
        sessions = db.make_sessions(engine)
        with sessions.begin() as session:
            queries.store_papers(session, [*papers, *EXTRA], datetime(2026, 1, 1, tzinfo=UTC))
        with sessions() as session:
            yield sessions, queries.all_papers(session)
        engine.dispose()


@pytest.fixture
def sessions(stored: tuple[sessionmaker[Session], Sequence[Paper]]) -> sessionmaker[Session]:
    return stored[0]


@pytest.fixture
def library(stored: tuple[sessionmaker[Session], Sequence[Paper]]) -> Sequence[Paper]:
    return stored[1]


def full_scan(papers: Sequence[Paper], keywords: list[str]) -> list[tuple[str, list[object]]]:
    """What preview printed before: every stored paper matched at once, in digest order."""
    matches = service.ranked(Matcher(papers).match(keywords))
    return [(m.paper.title, [(h.keyword, h.where, h.corrected) for h in m.hits]) for m in matches]


@pytest.mark.parametrize("keywords", KEYWORDS, ids=" ".join)
def test_preview_matches_what_matching_every_paper_does(
    sessions: sessionmaker[Session],
    library: Sequence[Paper],
    keywords: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read: list[int] = []
    papers_among = candidates.papers_among

    def counted(
        session: Session, ids: Sequence[int], wanted: candidates.Wanted
    ) -> list[candidates.Stored]:
        read.append(len(ids))
        return papers_among(session, ids, wanted)

    monkeypatch.setattr(candidates, "papers_among", counted)
    with sessions() as session:
        # Small batches: a keyword's matches span several.
        found = Library(session, batch=37)
        matches = found.matches(keywords)
        matching = list(read)
        papers = found.papers([m.paper_id for m in matches])
        got = [
            (papers[m.paper_id].title, [(h.keyword, h.where, h.corrected) for h in m.hits])
            for m in matches
        ]
    assert got == full_scan(library, keywords)
    assert max(matching, default=0) <= 37
    # Only the papers the index says may match are read, not the library.
    assert sum(matching) < len(library) / 2


def _read_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the batches candidates.every_paper gives from now on."""
    batches: list[int] = []
    every_paper = candidates.every_paper

    def counted(
        session: Session, batch: int, wanted: candidates.Wanted, categories: set[str] | None
    ) -> object:
        for found in every_paper(session, batch, wanted, categories):
            batches.append(len(found))
            yield found

    monkeypatch.setattr(candidates, "every_paper", counted)
    return batches


def test_preview_of_a_filter_alone_reads_the_library_in_batches(
    sessions: sessionmaker[Session], library: Sequence[Paper], monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = _read_batches(monkeypatch)
    with sessions() as session:
        matches = Library(session, batch=100).matches(["author:Wang"])
    assert matches
    assert sum(batches) == len(library)
    assert max(batches) == 100


# Stored as a feed might give them: in another case, with a non-ASCII letter that folds to
# an ASCII one (the Kelvin sign), in a subcategory of the one asked for, or nearly it.
ODD_CATEGORIES = [
    Paper(title="Lower case", arxiv_id="2601.00010", categories=("CS.ro",)),
    Paper(title="Kelvin", arxiv_id="2601.00011", categories=("math.\u212aT",)),
    Paper(title="A subcategory", arxiv_id="2601.00012", categories=("cs.RO.x",)),
    Paper(title="Almost", arxiv_id="2601.00013", categories=("xcs.RO", "cs.R")),
]


@pytest.mark.parametrize(
    "keywords", [["cat:cs.RO"], ["cat:math.KT"], ["cat:cs.RO", "cat:cs.CL"], ["cat:cs"]]
)
def test_a_category_filter_alone_reads_only_the_papers_whose_stored_lists_may_match(
    sessions: sessionmaker[Session],
    library: Sequence[Paper],
    monkeypatch: pytest.MonkeyPatch,
    keywords: list[str],
) -> None:
    with sessions.begin() as session:
        queries.store_papers(session, ODD_CATEGORIES, datetime(2026, 1, 2, tzinfo=UTC))
    with sessions() as session:
        papers = queries.all_papers(session)
    batches = _read_batches(monkeypatch)
    with sessions() as session:
        found = Library(session, batch=50)
        matches = found.matches(keywords)
        listed = found.papers([m.paper_id for m in matches])
        got = [
            (listed[m.paper_id].title, [(h.keyword, h.where, h.corrected) for h in m.hits])
            for m in matches
        ]
    expected = full_scan(papers, keywords)
    assert got == expected
    assert {"Lower case", "A subcategory"} & {title for title, _ in expected} or "KT" in keywords[0]
    if keywords != ["cat:cs"]:  # an archive of the library's most papers
        assert sum(batches) < len(papers) / 2


def test_phrase_search_finds_a_phrase_where_matching_the_split_words_does() -> None:
    """Preview's fast path looks for a phrase in a text of word families as stored: it must
    find it exactly where the words split apart are matched."""
    rng = random.Random(5)
    words = ["a", "ab", "abc", "b", "ba", "c", "a.b", "x+y"]
    for _ in range(3000):
        pattern = Phrase(
            tuple(frozenset(rng.sample(words, rng.randint(1, 3))) for _ in range(rng.randint(1, 3)))
        )
        text = "".join(
            rng.choice(words) + rng.choice([" ", " ", "  ", "\t", "\n "])
            for _ in range(rng.randint(0, 8))
        )
        search = _phrase_search(pattern)
        assert search is not None
        assert search(rng.choice(["", " "]) + text) == _phrase_in(tuple(text.split()), pattern)


def test_review_asks_the_whole_library(
    sessions: sessionmaker[Session], library: Sequence[Paper]
) -> None:
    """keywords.review judges a keyword by every stored paper, as it did with all of them
    in memory."""
    from bot import keywords

    typed = ["GNN pruning diffusion", "graph neural networks", "LLM agents"]
    with sessions() as session:
        got = keywords.review(typed, Library(session, batch=50))
    expected = keywords.review(typed, Matcher(library))
    assert got == expected


def test_an_acronym_is_found_in_a_text_that_composes_to_it() -> None:
    """Matching passes over texts without an acronym by a substring test, made on the text
    as its tokens are read (composed): a Kelvin sign composes to K, so "\u212aL" is "KL"."""
    paper = Paper(title="Bounds", abstract="A bound on the \u212aL divergence of two models.")
    assert Matcher([paper]).hits("KL")[0].where == "abstract"


def test_a_category_filter_finds_capital_i_codes_on_a_turkish_postgresql_database(
    postgres: Cluster,
) -> None:
    """A database of Turkish locale lowers "I" to a dotless i: the narrowing of cat: in SQL
    lowers codes as categories.within does (ASCII only), or cat:cs.AI misses "cs.AI"."""
    name = "preview_turkish"
    with _admin(postgres) as admin:
        try:
            admin.execute(
                text(
                    f"CREATE DATABASE {name} TEMPLATE template0 LOCALE 'C' "
                    "LOCALE_PROVIDER icu ICU_LOCALE 'tr-TR'"
                )
            )
        except DBAPIError:
            pytest.skip("this PostgreSQL has no ICU locales")
    engine = db.make_engine(postgres.url(name))
    try:
        db.upgrade(engine)
        papers = [
            Paper(title="Planning agents", arxiv_id="2601.00011", categories=("cs.AI",)),
            Paper(title="Channel codes", arxiv_id="2601.00012", categories=("cs.IT", "math.IT")),
            Paper(title="Sorting", arxiv_id="2601.00013", categories=("cs.DS",)),
        ]
        sessions = db.make_sessions(engine)
        with sessions.begin() as session:
            queries.store_papers(session, papers, datetime(2026, 1, 1, tzinfo=UTC))
        for keyword in ("cat:cs.AI", "cat:math.IT", "cat:cs.IT"):
            with sessions() as session:
                found = Library(session)
                matches = found.matches([keyword])
                titles = [found.papers([m.paper_id])[m.paper_id].title for m in matches]
            assert titles == [title for title, _ in full_scan(papers, [keyword])] != []
    finally:
        engine.dispose()
        with _admin(postgres) as admin:
            admin.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
