"""Search: ranking, query language, typo correction, hostile input, index sync, the CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_mock_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot import cli
from bot.analysis import definitions, family, tokens, word_key, words
from bot.matching import choose_corrections
from bot.records import MARK_END, MARK_START, Paper, SearchOutcome, SearchResult, render_marks
from bot.render import search_page
from bot.search import EMPTY_QUERY, MAX_WORDS, Term, parse_query, search, snippet
from bot.sources import parse_page
from storage import db, queries
from storage import search as store
from storage.identity import title_key
from storage.models import PaperRow, SearchAcronymRow, SearchFamilyRow, SearchWordRow
from storage.search import SearchUnavailable
from storage.search_index import TERMS_TABLE, insert_terms, terms_row, vocabulary_words
from tests.conftest import new_postgres_database
from tests.postgres import Cluster

NOW = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)

HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    '"""',
    "*",
    "graph*",
    "NEAR(graph neural)",
    "graph AND OR NOT neural",
    "-graph",
    "title:graph",
    "^graph",
    "(graph",
    "graph)",
    "'; DROP TABLE papers; --",
    '"; DROP TABLE papers; --',
    "%_\\",
    "!!! ??? ...",
    "\x00\x01\x02\x03",
    "graph " * 2000,
    "x" * 10_000,
    "é" * 5000,
    "\u202egraph\u202c",
    "\U0001d524\U0001d52f\U0001d51e\U0001d52d\U0001d525",  # "graph" in fraktur letters
    "图 神经 网络",
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template: Path,
    seed_pages: list[Path],
) -> str:
    """A database holding the 504 seed papers, copied by each test: every search test runs
    on both backends."""
    if request.param == "postgresql":
        postgres: Cluster = request.getfixturevalue("postgres")
        url = new_postgres_database(postgres, request.getfixturevalue("postgres_template"))
    else:
        path = tmp_path_factory.mktemp("seeded") / "paperboy.db"
        shutil.copy(migrated_template, path)
        url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    for page in seed_pages:
        with db.make_sessions(engine).begin() as session:
            queries.store_papers(session, parse_page(page.read_bytes()).papers, NOW)
    # No connection may stay open: PostgreSQL copies a template only when nobody uses it.
    engine.dispose()
    return url


def copy_of(url: str, request: pytest.FixtureRequest, folder: Path) -> str:
    """A database of its own with the contents of the one at `url`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return new_postgres_database(request.getfixturevalue("postgres"), parsed.database)
    path = folder / "library.db"
    shutil.copy(str(parsed.database), path)
    return f"sqlite:///{path}"


# For the tests of SQLite's own indexes.
sqlite_only = pytest.mark.parametrize("seeded_url", ["sqlite"], indirect=True)


@pytest.fixture
def library(
    seeded_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(copy_of(seeded_url, request, tmp_path))
    yield db.make_sessions(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables yet."""
    if request.param == "postgresql":
        return new_postgres_database(request.getfixturevalue("postgres"), None)
    return f"sqlite:///{tmp_path / 'empty.db'}"


def find(sessions: sessionmaker[Session], query: str, **page: int) -> SearchOutcome:
    with sessions() as session:
        return search(session, query, **page)


def titles(outcome: SearchOutcome) -> list[str]:
    return [result.title for result in outcome.results]


def everything(sessions: sessionmaker[Session], query: str) -> set[str]:
    """Titles of all matches (the seeds have fewer than the ranking window)."""
    found: set[str] = set()
    while len(page := find(sessions, query, limit=50, offset=len(found)).results):
        found.update(result.title for result in page)
    return found


def matching_ids(session: Session, index: str, word: str, floor: int = 0) -> list[int]:
    query = f"SELECT rowid FROM {index} WHERE {index} MATCH :word AND rowid >= :floor"
    return list(session.scalars(text(query), {"word": f'"{word}"', "floor": floor}))


def assert_indexes_intact(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert_terms_intact(session)
        if session.get_bind().dialect.name == "postgresql":
            assert_tsvectors_intact(session)
        else:
            assert_fts5_intact(session)


def assert_terms_intact(session: Session) -> None:
    # One analysed row per paper, the one its title and abstract give now: the indexes of
    # both databases are built from these rows.
    papers = session.execute(select(PaperRow.id, PaperRow.title, PaperRow.abstract))
    expected = {paper.id: terms_row(paper.id, paper.title, paper.abstract) for paper in papers}
    stored = session.execute(text(f"SELECT * FROM {TERMS_TABLE}")).mappings()
    assert {row["id"]: dict(row) for row in stored} == expected


def assert_fts5_intact(session: Session) -> None:
    # Raises if the index disagrees with the analysed rows it was built from.
    for index in (store.FTS_INDEX, store.TITLE_INDEX):
        check = f"INSERT INTO {index}({index}, rank) VALUES ('integrity-check', 1)"
        session.execute(text(check))
    # The recent index holds only the newest papers, which that check cannot allow for:
    # it must hold every paper from its oldest on, and find what the full index finds.
    recent = list(session.scalars(text(f"SELECT id FROM {store.RECENT_INDEX}_docsize")))
    floor = min(recent)
    newest = session.scalars(select(PaperRow.id).where(PaperRow.id >= floor))
    assert sorted(recent) == sorted(newest)
    # The indexes hold keys: each sampled word's exact form and word family.
    sample = session.scalars(select(SearchWordRow.word).order_by(SearchWordRow.word))
    for word in list(sample)[::25]:
        for key in {word_key(word), family(word)}:
            found = matching_ids(session, store.FTS_INDEX, key, floor)
            assert matching_ids(session, store.RECENT_INDEX, key) == found, key
        assert matching_ids(session, store.FTS_INDEX, family(word)), word


def assert_tsvectors_intact(session: Session) -> None:
    # One tsvector per paper, the one its analysed row gives now (papers_fts_terms is
    # checked against the papers by assert_terms_intact).
    stale = text(
        f"SELECT count(*) FROM {TERMS_TABLE} AS t FULL JOIN {store.FTS_INDEX} AS f "
        "ON f.id = t.id WHERE f.document IS DISTINCT FROM papers_fts_document(t)"
    )
    assert session.scalar(stale) == 0
    # The newest papers' keys (migration 0010): every paper from the oldest there on, each
    # with the keys its tsvector gives now.
    recent = list(session.scalars(text(f"SELECT id FROM {store.RECENT_INDEX}")))
    if recent:
        newest = session.scalars(
            text(f"SELECT id FROM {store.FTS_INDEX} WHERE id >= :floor"), {"floor": min(recent)}
        )
        assert sorted(recent) == sorted(newest)
    stale = text(
        f"SELECT count(*) FROM {store.RECENT_INDEX} JOIN {store.FTS_INDEX} USING (id) "
        "WHERE keys IS DISTINCT FROM papers_fts_part_keys(document)"
    )
    assert session.scalar(stale) == 0


def assert_intact(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PaperRow)) == 504
    assert_indexes_intact(sessions)


def vocabulary(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(select(SearchWordRow.word, SearchWordRow.papers))
        return {row.word: row.papers for row in rows}


def recount(sessions: sessionmaker[Session]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    with sessions() as session:
        for title, abstract in session.execute(select(PaperRow.title, PaperRow.abstract)):
            counts.update(vocabulary_words(title, abstract))
    return dict(counts)


def counted(sessions: sessionmaker[Session]) -> dict[str, dict[Any, int]]:
    """What the three vocabulary tables count: papers per word, word family and acronym
    definition."""
    with sessions() as session:
        words_ = session.execute(select(SearchWordRow.word, SearchWordRow.papers))
        families = session.execute(select(SearchFamilyRow.family, SearchFamilyRow.papers))
        acronyms = session.execute(
            select(SearchAcronymRow.acronym, SearchAcronymRow.long_form, SearchAcronymRow.papers)
        )
        return {
            "words": {row.word: row.papers for row in words_},
            "families": {row.family: row.papers for row in families},
            "definitions": {(row.acronym, row.long_form): row.papers for row in acronyms},
        }


def recounted(sessions: sessionmaker[Session]) -> dict[str, dict[Any, int]]:
    """The same counts, made afresh from the papers."""
    families: Counter[str] = Counter()
    acronyms: Counter[tuple[str, str]] = Counter()
    with sessions() as session:
        for title, abstract in session.execute(select(PaperRow.title, PaperRow.abstract)):
            families.update({family(word) for word in vocabulary_words(title, abstract)})
            acronyms.update(
                {
                    (a, " ".join(form))
                    for text_ in (title, abstract)
                    for a, form in definitions(text_)
                }
            )
    return {
        "words": dict(recount(sessions)),
        "families": dict(families),
        "definitions": dict(acronyms),
    }


def paper_texts(sessions: sessionmaker[Session]) -> dict[str, str]:
    """Each paper's title and abstract, by title."""
    with sessions() as session:
        rows = session.execute(select(PaperRow.title, PaperRow.abstract))
        return {row.title: f"{row.title}\n{row.abstract}" for row in rows}


def saying(sessions: sessionmaker[Session], word: str) -> set[str]:
    """Titles of the papers with the word in some inflection ("network", "networks")."""
    texts = paper_texts(sessions).items()
    return {title for title, text_ in texts if word_key(word) in map(word_key, words(text_))}


def of_family(sessions: sessionmaker[Session], word: str) -> set[str]:
    """Titles of the papers with a word of the word's family."""
    texts = paper_texts(sessions).items()
    return {title for title, text_ in texts if family(word) in map(family, words(text_))}


# The query language, without a database.


def test_words_fold_case_diacritics_and_punctuation() -> None:
    assert words("Graph-Based RÉSEAUX, naïve_Bayes x²") == [
        "graph",
        "based",
        "reseaux",
        "naive",
        "bayes",
        "x2",
    ]
    assert words("Graph-Based deep_learning, GPT4 (x2)!") == [
        "graph",
        "based",
        "deep",
        "learning",
        "gpt4",
        "x2",
    ]
    assert vocabulary_words("GPT4 uses 3D Transformers; Transformers!") == {"uses", "transformers"}
    # Words of three letters are in the vocabulary too: compounds split into them.
    assert vocabulary_words("Pre-trained GPT4 for 3D") == {"pre", "trained", "for"}


def test_parse_words_phrases_and_prefix() -> None:
    # Words keep their case: an acronym typed in capitals is matched as one.
    assert parse_query('graph "neural ODE" netw').terms == (
        Term(("graph",)),
        Term(("neural", "ODE")),
        Term(("netw",), prefix=True),
    )
    # A space or a closing quote after the last word: it is finished.
    assert parse_query("graph netw ").terms[-1] == Term(("netw",))
    assert parse_query('graph "netw"').terms[-1] == Term(("netw",))
    # Too short to complete.
    assert parse_query("graph ne").terms[-1] == Term(("ne",))
    # An unclosed quote runs to the end; curly quotes are quotes.
    assert parse_query('graph "neural netw').terms[-1] == Term(("neural", "netw"))
    assert parse_query("\u201cgraph neural\u201d").terms == (Term(("graph", "neural")),)
    # Operators and punctuation are only separators; repeats count once.
    assert parse_query("NEAR(graph OR graph) title:*").terms == (
        Term(("NEAR",)),
        Term(("graph",)),
        Term(("OR",)),
        Term(("title",)),
    )


def test_parse_exclusions_and_explicit_prefixes() -> None:
    # A minus before a word or a quote excludes it; inside a word it only separates.
    assert parse_query('graph -survey -"neural ODE" self-supervised').terms == (
        Term(("graph",)),
        Term(("survey",), exclude=True),
        Term(("neural", "ODE"), exclude=True),
        Term(("self",)),
        Term(("supervised",), prefix=True),
    )
    # An excluded last word is finished: it never completes.
    assert parse_query("graph -surv").terms[-1] == Term(("surv",), exclude=True)
    # word* completes wherever it stands, and says it was asked for.
    assert parse_query("diff* graph").terms == (
        Term(("diff",), prefix=True, explicit=True),
        Term(("graph",), prefix=True),
    )
    assert parse_query("-title:*").terms == (Term(("title",), exclude=True),)


def test_parse_caps_the_words() -> None:
    parsed = parse_query(" ".join(f"w{n}" for n in range(40)))
    assert len(parsed.terms) == MAX_WORDS
    assert parsed.dropped == 40 - MAX_WORDS
    phrase = parse_query('"' + " ".join(f"w{n}" for n in range(20)) + '"')
    assert phrase.terms[0].words == tuple(f"w{n}" for n in range(MAX_WORDS))
    assert parse_query("x" * 10_000).dropped == 0


@pytest.mark.parametrize("query", HOSTILE)
def test_parse_never_fails(query: str) -> None:
    parsed = parse_query(query)
    assert sum(len(term.words) for term in parsed.terms) <= MAX_WORDS
    assert all(term.words for term in parsed.terms)


def test_choose_corrections_prefers_closest_then_most_used() -> None:
    # Candidates come with the number of papers that use their word family.
    candidates = [("transformers", 50), ("transformer", 10), ("transforms", 90)]
    assert choose_corrections("tranformer", 0, candidates) == ["transformer"]
    assert choose_corrections("tranformers", 0, candidates) == ["transformers"]
    # A swap of two neighbouring letters is one typo, not two.
    assert choose_corrections("trasnformer", 0, candidates) == ["transformer"]
    assert choose_corrections("gradient", 0, [("gradual", 5)]) == []
    # 5-7 letters: one typo; of the closest candidates the most used one only (the others
    # are mostly other words: "traning" is not "tracing"); shorter words are never corrected.
    assert choose_corrections("modle", 0, [("model", 3), ("mode", 9)]) == ["mode"]
    assert choose_corrections("traning", 0, [("training", 90), ("tracing", 3)]) == ["training"]
    assert choose_corrections("mdle", 0, [("model", 3)]) == []
    assert choose_corrections("gan", 0, [("gain", 3)]) == []
    # Slips in the first letter are rare: "atack" is "attack", never "stack".
    assert choose_corrections("atack", 0, [("stack", 30), ("attack", 4)]) == ["attack"]
    # A word whose family papers use is no typo, however rare ("lossy" is not "loss"); a
    # correction is a word of two papers at least.
    assert choose_corrections("tranformer", 1, candidates) == []
    assert choose_corrections("tranformer", 0, [("transformer", 1)]) == []
    # Never a word of the same family, nor an English word.
    assert choose_corrections("quantisation", 0, [("quantization", 50)]) == []
    assert choose_corrections("university", 0, [("universality", 50)]) == []
    assert choose_corrections("universty", 0, [("university", 50)]) == ["university"]


def test_snippet_marks_exact_and_family_words_and_says_where_it_cuts() -> None:
    def marked(text_: str) -> str:
        return render_marks(snippet(text_, {word_key("graph")}, {family("quantization")}), "[", "]")

    # Exact keys mark every inflection, family keys every word of the family.
    assert marked("(Graphs of quantized nets; a quantizer, graphical.)") == (
        "([Graphs] of [quantized] nets; a [quantizer], graphical.)"
    )
    # Cut around the most marked words: an ellipsis only where words are left out.
    filler = " ".join(f"w{n}" for n in range(40))
    assert marked(f"{filler} graph quantization {filler}.").count("…") == 2
    assert marked(f"Graph quantization {filler}.").startswith("[Graph] [quantization] w0 ")
    assert marked(f"{filler} graph quantization!").endswith(" w39 [graph] [quantization]!")
    assert marked("") == ""


def test_render_marks_is_always_balanced() -> None:
    s, e = MARK_START, MARK_END
    assert render_marks(f"a {s}graph{e} b", "<b>", "</b>") == "a <b>graph</b> b"
    assert render_marks(f"{e}{s}{s}x{e}{e} {s}y", "[", "]") == "[x] [y]"


# Ranking and matching, on the seed papers.


def test_title_hit_ranks_above_abstract_only_hits(library: sessionmaker[Session]) -> None:
    outcome = find(library, "hypernetworks", limit=50)
    in_title = ["hypernetwork" in title.lower() for title in titles(outcome)]
    assert in_title.count(True) == 7
    assert in_title.count(False) >= 4
    # Every paper with the word in its title comes before every paper with it elsewhere.
    assert in_title == sorted(in_title, reverse=True)


def test_tiers_rank_exact_title_phrase_first_then_looser_matches(
    library: sessionmaker[Session],
) -> None:
    # Stored best first, so each is older than every worse one: within a tier newer papers
    # may come first, but no paper of a better tier is ever ranked below a worse tier's.
    tiers = [
        # The phrase in the title, exactly.
        Paper("Zebrafish Quantization", "A short note on counting fish."),
        # Both words in the title, exactly.
        Paper("Quantization for Zebrafish", "We count fish."),
        # The phrase in the abstract, exactly (twice).
        Paper("Counting Fish", "Zebrafish quantization, then zebrafish quantization."),
        # Both words, exactly, one in the title and one in the abstract.
        Paper("Quantization of Fish", "Fish such as the zebrafish are counted."),
        # Only other words of the families, many times, in the title too; the newest.
        Paper(
            "Quantized Zebrafish Quantizers",
            "Quantizing zebrafish: quantized zebrafish, quantizers of zebrafish, quantized.",
        ),
    ]
    for paper in tiers:
        with library.begin() as session:
            queries.store_papers(session, [paper], NOW)
    for query in ("zebrafish quantization", "Zebrafish Quantization "):
        assert titles(find(library, query, limit=10)) == [paper.title for paper in tiers], query
    # As a phrase the words stand together in every tier: exactly in the title, exactly in
    # the abstract, then as families ("Zebrafish Quantizers"; "Quantized Zebrafish" is not).
    assert titles(find(library, '"zebrafish quantization"', limit=10)) == [
        "Zebrafish Quantization",
        "Counting Fish",
        "Quantized Zebrafish Quantizers",
    ]


def test_minus_leaves_out_papers_with_the_word(library: sessionmaker[Session]) -> None:
    graph = everything(library, "graph")
    surveys = of_family(library, "survey")
    assert graph & surveys  # some seed papers on graphs are surveys
    without = everything(library, "graph -survey")
    assert without == graph - surveys
    # Any form of the word, and a phrase, as a digest's -keyword.
    assert everything(library, "graph -Surveys") == without
    neural = of_family(library, "neural")
    assert everything(library, 'graph -"graph neural networks"') < graph
    assert graph - neural <= everything(library, 'graph -"graph neural networks"')
    # Exclusions alone search for nothing.
    assert find(library, "-survey").message == EMPTY_QUERY


def test_star_completes_even_a_word_of_its_own(library: sessionmaker[Session]) -> None:
    # A seed paper uses "diff" as a word, so a last word "diff" is taken as finished...
    assert vocabulary(library)["diff"] == 1
    plain = everything(library, "diff")
    assert plain == saying(library, "diff")
    # ...but "diff*" asks for the longer words too.
    starred = everything(library, "diff*")
    assert plain < starred
    assert everything(library, "diffusion") <= starred
    assert everything(library, "different") <= starred
    assert find(library, "diff*").corrected is None


def test_acronyms_find_the_long_form_the_papers_define(library: sessionmaker[Session]) -> None:
    texts = paper_texts(library)
    long_form = {
        t for t, text_ in texts.items() if "graph neural network" in " ".join(words(text_))
    }
    acronym = {t for t, text_ in texts.items() if {"GNN", "GNNs"} & set(tokens(text_))}
    # The seeds define GNN ("graph neural networks (GNNs)"), and some papers only write the
    # long form, others only the acronym.
    assert any(
        ("GNN", ("graph", "neural", "network")) in set(definitions(text_))
        for text_ in texts.values()
    )
    assert long_form - acronym
    assert acronym - long_form
    gnn = everything(library, "GNN")
    assert gnn == long_form | acronym
    assert everything(library, "GNNs") == gnn
    assert everything(library, '"graph neural networks"') == gnn
    # Papers that write the acronym itself rank first.
    ranked = titles(find(library, "GNN", limit=50))
    uses_it = [title in acronym for title in ranked]
    assert uses_it == sorted(uses_it, reverse=True)


def test_snippets_mark_the_words_of_the_family(library: sessionmaker[Session]) -> None:
    abstract = (
        "We quantized zebrafish, then a quantizer counted them in quantum time: quantization."
    )
    with library.begin() as session:
        queries.store_papers(session, [Paper("Zebrafish Counts", abstract)], NOW)
    [result] = find(library, "zebrafish quantization").results
    assert render_marks(result.snippet, "[", "]") == (
        "We [quantized] [zebrafish], then a [quantizer] counted them in quantum time: "
        "[quantization]."
    )
    # A seed paper that only says "quantized" shows it marked.
    regnet = "Designing Network Design Spaces"
    [result] = [r for r in find(library, "quantization", limit=50).results if r.title == regnet]
    assert "[quantized]" in render_marks(result.snippet, "[", "]")


def test_phrase_needs_the_words_together(library: sessionmaker[Session]) -> None:
    phrase = everything(library, '"graph neural"')
    separate = everything(library, "graph neural")
    assert phrase
    assert phrase < separate
    outcome = find(library, '"graph neural"')
    for result in outcome.results:
        marked = render_marks(result.snippet, "[", "]").lower()
        assert "[graph neural]" in marked or "[graph] [neural]" in marked or not marked


def test_phrase_stays_within_title_or_abstract(library: sessionmaker[Session]) -> None:
    with library.begin() as session:
        queries.store_papers(session, [Paper("Spectra of Zebrafish", "Models swim.")], NOW)
    assert find(library, '"zebrafish models"').matches == 0
    assert titles(find(library, "zebrafish models")) == ["Spectra of Zebrafish"]


def test_long_phrase_needs_its_words_in_a_row(library: sessionmaker[Session]) -> None:
    with library.begin() as session:
        queries.store_papers(session, [Paper("Zebrafish Swim", "Swim meets, for zebrafish.")], NOW)
    # Each pair of words is in the paper ("zebrafish swim", "swim meets"), not the three.
    assert find(library, '"zebrafish swim meets"').matches == 0
    assert titles(find(library, '"zebrafish swim" "swim meets"')) == ["Zebrafish Swim"]


def test_common_words_and_accents_are_words(library: sessionmaker[Session]) -> None:
    # Curly quotes, a dash and an apostrophe (\u2019) separate words, as spaces do.
    paper = Paper("Réseaux de Neurones", "Une étude “naïve” des réseaux—profonds, d\u2019abord.")
    with library.begin() as session:
        queries.store_papers(session, [paper], NOW)
    for query in ("reseaux", "Réseaux", '"une etude naive"', "profonds", '"de neurones"', "abord"):
        assert titles(find(library, query)) == ["Réseaux de Neurones"], query
    [result] = find(library, "etude").results
    assert f"{MARK_START}" in result.snippet
    assert (
        render_marks(result.snippet, "[", "]").lower().count("[etude]")
        + render_marks(result.snippet, "[", "]").lower().count("[étude]")
        == 1
    )
    # No stop words: the words of a phrase all count.
    on_the = everything(library, '"on the"')
    assert on_the
    assert on_the < everything(library, "on")


def test_several_words_must_all_match(library: sessionmaker[Session]) -> None:
    both = everything(library, "graph diffusion")
    assert both
    assert both <= everything(library, "graph") & everything(library, "diffusion")
    assert everything(library, "graph zzzqqqxx") == set()


def test_inflections_find_other_forms(library: sessionmaker[Session]) -> None:
    assert everything(library, "network") == everything(library, "networks")
    # Plurals in -ys too ("surveys", "arrays", "keys").
    surveys = everything(library, "surveys")
    assert surveys == everything(library, "survey")
    assert saying(library, "surveys") <= surveys


def test_word_families_find_each_other(library: sessionmaker[Session]) -> None:
    # Seed papers that say "quantized" (or "quantize", "quantizing"), never "quantization".
    with_the_word = saying(library, "quantization")
    only_quantized = saying(library, "quantized") - with_the_word
    assert only_quantized
    assert with_the_word
    quantization = find(library, "quantization", limit=50)
    found = titles(quantization)
    assert quantization.matches == len(found)
    assert only_quantized | with_the_word <= set(found) <= of_family(library, "quantization")
    assert set(found) == everything(library, "quantized")
    # Papers with the very word rank above those with only another word of its family.
    exact = [title in with_the_word for title in found]
    assert exact == sorted(exact, reverse=True)


def test_families_do_not_reach_words_of_other_meanings(library: sessionmaker[Session]) -> None:
    # Porter stemming put each of these pairs in one stem; word families do not.
    pairs = [
        ("generalization", "generative"),
        ("continual", "continuous"),
        ("experiment", "experience"),
        ("transformation", "Transformer"),
    ]
    for query, other in pairs:
        only_other = saying(library, other) - of_family(library, query)
        assert only_other, other  # the seeds have papers that say only the other word
        found = everything(library, query)
        assert found, query
        assert not found & only_other, (query, sorted(found & only_other)[:3])


def test_last_word_completes_unless_finished(library: sessionmaker[Session]) -> None:
    completed = find(library, "hypernetw", limit=50)
    assert completed.corrected is None
    assert "HyperNetworks" in titles(completed)
    # Finished, it is just a word no paper uses, and is corrected.
    assert find(library, "hypernetw ").corrected == "hypernets"
    assert find(library, '"hypernetw"').corrected == "hypernets"
    # A word that papers use is taken as finished: "hypernet" finds only hypernet(s).
    assert find(library, "hypernet").matches < completed.matches


def test_misspelt_words_are_corrected(library: sessionmaker[Session]) -> None:
    outcome = find(library, "tranformer")
    assert outcome.corrected == "transformer"
    assert outcome.message == "showing results for transformer"
    assert outcome.results
    assert outcome.results == find(library, "transformer").results

    outcome = find(library, '"convolutonal neural" netwroks')
    assert outcome.corrected == '"convolutional neural" networks'
    assert outcome.results
    # Every tier searches the corrected words, acronyms the papers define for them included.
    assert outcome.results == find(library, '"convolutional neural" networks').results
    assert outcome.matches == find(library, '"convolutional neural" networks').matches


def test_swapped_letters_are_one_typo(library: sessionmaker[Session]) -> None:
    outcome = find(library, "trasnformer", limit=10)
    assert outcome.corrected == "transformer"
    assert outcome.message == "showing results for transformer"
    assert outcome.results == find(library, "transformer", limit=10).results
    # Two slips in a phrase, each a swap.
    for query in ('"lagnuage modles"', "lagnuage modles"):
        outcome = find(library, query, limit=10)
        shown = query.replace("lagnuage modles", "language models")
        assert outcome.corrected == shown
        assert outcome.message == f"showing results for {shown}"
        assert outcome.results
        # The corrected words' results come first; a second reading of a typo ("modles":
        # "modules", "modes" too) may add papers after them, and marks its words.
        assert titles(outcome) == titles(find(library, shown, limit=10))
        assert outcome.matches >= find(library, shown).matches


def test_known_words_are_not_corrected(library: sessionmaker[Session]) -> None:
    for query in ("transformer", "hypernetworks", "graph neural networks", "gans"):
        outcome = find(library, query)
        assert (outcome.corrected, outcome.message) == (None, None), query
    # One seed paper spells it this way, so it is a word of the library, never a typo,
    # however rare: it finds that paper alone (as a digest's keyword does).
    [misspelt] = saying(library, "convolutinal")
    outcome = find(library, "convolutinal", limit=50)
    assert (outcome.corrected, outcome.message) == (None, None)
    assert titles(outcome) == [misspelt]


def test_corrections_are_words_of_several_papers(library: sessionmaker[Session]) -> None:
    def save(title: str) -> None:
        with library.begin() as session:
            queries.store_papers(session, [Paper(title, abstract="On quasicrystals.")], NOW)

    # A word of one paper is as likely a typo itself: it is known, but never suggested.
    save("Quasi Things")
    assert find(library, "quasicrystls").corrected is None
    save("More Quasi Things")
    assert find(library, "quasicrystls").corrected == "quasicrystals"


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_answer_calmly(shared_library: sessionmaker[Session], query: str) -> None:
    # One library for all of them (a search writes nothing): each query is searched, then the
    # library checked whole, so harm done by any query shows at once, and in the ones after.
    outcome = find(shared_library, query)
    assert outcome.message or outcome.results or outcome.matches == 0
    if not parse_query(query).terms:
        assert outcome.message == EMPTY_QUERY
    assert_intact(shared_library)


def test_long_queries_say_they_were_cut(shared_library: sessionmaker[Session]) -> None:
    outcome = find(shared_library, "graph " + " ".join(f"neural{n}" for n in range(30)))
    assert outcome.message == f"only the first {MAX_WORDS} words were searched"


def test_paging(shared_library: sessionmaker[Session]) -> None:
    library = shared_library
    whole = find(library, "learning", limit=6)
    first = find(library, "learning", limit=3)
    second = find(library, "learning", limit=3, offset=3)
    assert whole.results == first.results + second.results
    assert first.more
    assert (first.matches, first.capped) == (whole.matches, False)
    assert find(library, "learning", offset=whole.matches).results == ()
    assert len(find(library, "learning", limit=500).results) == 50


def test_results_carry_link_date_and_snippet(library: sessionmaker[Session]) -> None:
    with library.begin() as session:
        queries.store_papers(
            session,
            [
                Paper(
                    title="Zebrafish Models",
                    abstract="Fish swim. We stitch pretrained zebrafish models together.",
                    arxiv_id="2302.99999",
                    published=date(2023, 2, 13),
                )
            ],
            NOW,
        )
    [result] = find(library, "zebrafish").results
    assert result.url == "https://arxiv.org/abs/2302.99999"
    assert result.date == date(2023, 2, 13)
    assert f"pretrained {MARK_START}zebrafish{MARK_END} models" in result.snippet
    [powernorm] = find(library, "powernorm").results
    assert powernorm.url == "https://github.com/sIncerass/powernorm"
    assert powernorm.date is None


# The indexes and the vocabulary follow every change to the papers.


def test_vocabulary_counts_papers_per_word(library: sessionmaker[Session]) -> None:
    counts = counted(library)
    assert counts == recounted(library)
    # Papers per surface word, per word family, and per acronym definition.
    texts = paper_texts(library)
    assert len(texts) == 504
    quantized = {title for title, text_ in texts.items() if "quantized" in words(text_)}
    assert counts["words"]["quantized"] == len(quantized) > 0
    assert counts["families"][family("quantized")] == len(of_family(library, "quantized"))
    assert counts["families"][family("quantized")] > len(quantized)
    assert counts["definitions"][("GNN", "graph neural network")] > 1


def test_enriched_abstract_is_searchable(library: sessionmaker[Session]) -> None:
    def save(abstract: str) -> None:
        with library.begin() as session:
            queries.store_papers(session, [Paper("Quasi Things", abstract=abstract)], NOW)

    save("A short abstract about lattices.")
    assert "Quasi Things" in titles(find(library, "lattices", limit=50))
    assert find(library, "quasicrystals").matches == 0
    lattices = vocabulary(library)["lattices"]
    save("A much longer abstract about quasicrystals, replacing the short one entirely.")
    assert titles(find(library, "quasicrystals")) == ["Quasi Things"]
    assert "Quasi Things" not in titles(find(library, "lattices", limit=50))
    # The vocabulary followed: the new word came, the old one lost a paper.
    words_now = vocabulary(library)
    assert (words_now["quasicrystals"], words_now.get("lattices", 0)) == (1, lattices - 1)
    assert counted(library) == recounted(library)
    assert_indexes_intact(library)


def test_enriching_the_oldest_paper_keeps_the_recent_index_whole(
    library: sessionmaker[Session],
) -> None:
    with library() as session:
        oldest = session.scalars(select(PaperRow).order_by(PaperRow.id).limit(1)).one()
        paper = Paper(oldest.title, oldest.abstract + " Now with quasicrystals, at length.")
    with library.begin() as session:
        assert queries.store_papers(session, [paper], NOW).enriched == 1
    # The oldest paper is still among the newest 50,000 of a small library, and found.
    with library() as session:
        if session.get_bind().dialect.name == "sqlite":
            recent = session.scalars(text(f"SELECT id FROM {store.RECENT_INDEX}_docsize"))
            assert sorted(recent) == sorted(session.scalars(select(PaperRow.id)))
    assert_indexes_intact(library)
    assert titles(find(library, "quasicrystals")) == [paper.title]


def test_forced_reingest_changes_nothing(
    library: sessionmaker[Session], seed_pages: list[Path]
) -> None:
    before = counted(library)
    for page in seed_pages:
        with library.begin() as session:
            queries.store_papers(session, parse_page(page.read_bytes()).papers, NOW)
    assert counted(library) == before
    assert_intact(library)


def row(title: str, abstract: str, **more: object) -> dict[str, object]:
    """A papers row as migration 0001 made the table, written without storage code."""
    return {
        "title": title,
        "title_key": title_key(title),
        "abstract": abstract,
        "authors": [],
        "categories": [],
        "keywords": [],
        "first_seen_at": NOW,
        "updated_at": NOW,
        **more,
    }


def first_page(seed_pages: list[Path]) -> list[Paper]:
    papers = parse_page(seed_pages[0].read_bytes()).papers
    return list({title_key(paper.title): paper for paper in papers}.values())


def test_papers_stored_before_the_search_migration_are_found(
    empty_url: str, seed_pages: list[Path]
) -> None:
    engine = db.make_engine(empty_url)
    command.upgrade(db.alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.execute(
            insert(PaperRow), [row(p.title, p.abstract) for p in first_page(seed_pages)]
        )
    db.upgrade(engine)
    sessions = db.make_sessions(engine)
    assert "A Brief Review of Hypernetworks in Deep Learning" in titles(
        find(sessions, "hypernetworks")
    )
    assert find(sessions, "hypernetwroks").corrected == "hypernetworks"
    assert counted(sessions) == recounted(sessions)
    assert_indexes_intact(sessions)
    engine.dispose()


def test_search_schema_migrates_down_and_up(empty_url: str) -> None:
    engine = db.make_engine(empty_url)
    db.upgrade(engine)
    config = db.alembic_config(engine)
    # The search indexes are no models: autogenerate must neither miss nor drop them.
    command.check(config)
    command.downgrade(config, "0004")
    db.upgrade(engine)
    command.check(config)
    sessions = db.make_sessions(engine)
    with sessions.begin() as session:
        queries.store_papers(session, [Paper("Zebrafish Models", "On zebrafish.")], NOW)
    assert titles(find(sessions, "zebrafish")) == ["Zebrafish Models"]
    assert_indexes_intact(sessions)
    engine.dispose()


def test_papers_indexed_before_migration_0012_are_found_the_same(empty_url: str) -> None:
    """Migration 0012 keeps each paper's tsvector in its row on PostgreSQL, also those of
    the papers indexed before it (which it writes again): they are found and ranked as
    before, and so are papers indexed after it."""
    engine = db.make_engine(empty_url)
    db.upgrade(engine)
    config = db.alembic_config(engine)
    command.downgrade(config, "0011")
    sessions = db.make_sessions(engine)
    postgres = engine.dialect.name == "postgresql"
    # Abstracts of 300 different words: tsvectors of several kilobytes.
    long = " ".join(f"zebrafish{n} tendon{n * 7}" for n in range(150))
    papers = [
        Paper(f"Zebrafish Models {n}", f"On zebrafish regeneration. {long}") for n in range(3)
    ]
    papers.append(Paper("Tendon repair", "Zebrafish tendons, briefly."))
    with sessions.begin() as session:
        queries.store_papers(session, papers, NOW)

    def out_of_line() -> int:
        with sessions() as session:
            return int(
                session.scalar(
                    text(
                        "SELECT pg_relation_size(reltoastrelid) FROM pg_class "
                        f"WHERE relname = '{store.FTS_INDEX}'"
                    )
                )
            )

    if postgres:
        assert out_of_line() > 0
    expected = {query: titles(find(sessions, query)) for query in ("zebrafish", "tendon", "x")}
    assert len(expected["zebrafish"]) == 4
    db.upgrade(engine)
    command.check(config)
    assert {query: titles(find(sessions, query)) for query in expected} == expected
    with sessions.begin() as session:
        fins = " ".join(f"fin{n} ray{n * 7}" for n in range(150))
        queries.store_papers(session, [Paper("Fin Rays", f"On fins. {fins}")], NOW)
    assert titles(find(sessions, "fins")) == ["Fin Rays"]
    if postgres:
        assert out_of_line() == 0
    assert_indexes_intact(sessions)
    command.downgrade(config, "0011")
    db.upgrade(engine)
    assert {query: titles(find(sessions, query)) for query in expected} == expected
    engine.dispose()


@sqlite_only
def test_old_papers_leave_the_recent_index_and_stay_findable(
    library: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = everything(library, "graph hypernetworks")
    assert expected
    # Ids jump past the recent index's size (50,000): every seed paper is pushed out of it.
    fresh = [
        row(f"Fresh graph paper {n}", "graph learning, recently", id=100_000 + n) for n in range(3)
    ]
    analysed = [
        (100_000 + n, f"Fresh graph paper {n}", "graph learning, recently") for n in range(3)
    ]
    with library.begin() as session:
        session.execute(insert(PaperRow), fresh)
        # The indexes read the analysed texts, which storage code writes with each paper.
        insert_terms(session, analysed)
    with library() as session:
        recent = session.scalars(text(f"SELECT id FROM {store.RECENT_INDEX}_docsize")).all()
    assert sorted(recent) == [100_000, 100_001, 100_002]
    assert_indexes_intact(library)
    # The seed papers now rank on the whole index, and find the same papers as before.
    assert everything(library, "graph hypernetworks") == expected
    # With a window of 2, "graph" has a full window of recent matches: it is left out of the
    # scoring, and the results are still the newest 2 papers with both words. Each tier is
    # ranked on its own: the phrase in the title, both words in the title, the phrase in the
    # abstract, both words anywhere (graph left out of the scoring of those with it as a
    # clause of its own); the family tier needs "graph" in each of its readings, so it has
    # nothing cheap to score, and lists its matches newest first.
    ranked_on: list[tuple[str, bool]] = []
    ranked_sql = store._ranked_sql

    def spy(index: str, filtered: bool) -> object:
        ranked_on.append((index, filtered))
        return ranked_sql(index, filtered)

    monkeypatch.setattr(store, "_ranked_sql", spy)
    monkeypatch.setattr(store, "WINDOW", 2)
    outcome = find(library, "graph hypernetworks", limit=50)
    # The title tiers look through the index of titles alone.
    assert ranked_on == [
        (store.TITLE_INDEX, False),
        (store.TITLE_INDEX, True),
        (store.FTS_INDEX, False),
        (store.FTS_INDEX, True),
    ]
    assert (outcome.matches, outcome.capped) == (2, True)
    assert set(titles(outcome)) <= expected
    assert len(outcome.results) == 2
    # Every word common, the phrase rare: nothing is cheap to score (FTS5 counts a phrase
    # along its rarest word's postings), so every tier lists its matches newest first.
    ranked_on.clear()
    outcome = find(library, '"learning graph"', limit=50)
    assert ranked_on == []
    assert outcome.results
    # Enough matches among the recent papers: only those are ranked, on the recent index.
    monkeypatch.setattr(store, "WINDOW", 2000)
    monkeypatch.setattr(store, "RECENT_ENOUGH", 3)
    outcome = find(library, "graph", limit=50)
    # One per tier: title, abstract, exact words anywhere, word family.
    assert ranked_on == [(store.RECENT_INDEX, False)] * 4
    assert sorted(titles(outcome)) == [f"Fresh graph paper {n}" for n in range(3)]
    # Counted as ranked: the recent matches, and maybe more, older (no next page to offer).
    assert (outcome.matches, outcome.capped) == (3, True)
    assert not outcome.more


# Three papers far newer than the seeds (ids up to about 500): the seeds are then old, out of
# the recent index, as in a big library.
FRESH = [(100_000 + n, f"Fresh graph paper {n}", "graph learning, recently") for n in range(3)]


def _split_into_spans(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Shrink the recent index's size as the spans see it, so that the first span starts at
    id 200, among the seeds; returns the spans of ids the whole index is then read in, as
    they are read."""
    monkeypatch.setattr(store, "RECENT", 24_950)
    spans: list[tuple[int, int]] = []
    newest = store._newest

    def spy(
        session: Session, index: str, query: str, floor: int = 0, ceiling: int = store.MAX_ID
    ) -> list[int]:
        if index == store.FTS_INDEX:
            spans.append((floor, ceiling))
        return newest(session, index, query, floor, ceiling)

    monkeypatch.setattr(store, "_newest", spy)
    return spans


@sqlite_only
@pytest.mark.parametrize("query", ["learning with neural networks", "learns neurons network"])
def test_a_rare_mix_of_common_words_ranks_among_its_newest_matches(
    library: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    # At a million papers, every word is common, and few papers have them all. Two seed
    # papers, one on either side of the spans below, now say "learning with neural
    # networks" in their abstracts.
    exact = [(n, f"Older study {n}", "learning with neural networks, again") for n in (150, 300)]
    with library.begin() as session:
        session.execute(insert(PaperRow), [row(t, a, id=i) for i, t, a in FRESH])
        for paper_id, title, abstract in exact:
            paper = session.get(PaperRow, paper_id)
            assert paper is not None
            paper.title, paper.abstract = title, abstract
        session.flush()
        insert_terms(session, FRESH + exact)
    monkeypatch.setattr(store.Fts5Search, "_word_common", lambda *args: True)
    monkeypatch.setattr(store, "RECENT_ENOUGH", 3)

    def walk(limit: int) -> tuple[list[int], list[tuple[int, bool]]]:
        """Every result, paging as the bot does (while a next page is offered), and each
        page's count."""
        ids: list[int] = []
        counts: list[tuple[int, bool]] = []
        while True:
            outcome = find(library, query, limit=limit, offset=len(ids))
            page = [result.paper_id for result in outcome.results]
            assert None not in page
            ids += [paper for paper in page if paper is not None]
            counts.append((outcome.matches, outcome.capped))
            if not outcome.more:
                return ids, counts

    # Read whole: the library is smaller than the first span (4 recent indexes' sizes).
    whole, counts = walk(5)
    assert not any(capped for _, capped in counts)
    assert len(whole) == len(set(whole)) == counts[0][0] > 12
    # Spans that split the seed papers: the first (ids from 200 on) has enough matches.
    spans = _split_into_spans(monkeypatch)
    first = find(library, query, limit=1)
    assert spans == [(200, store.MAX_ID)]
    assert first.capped
    in_span = first.matches
    assert in_span >= 3
    # Whatever the page size, the same results in the same order, each once, to the last
    # page (one ending where the span's matches do included): the whole library's, less
    # the older papers' that match no title tier.
    staged, counts = walk(5)
    assert all(capped for _, capped in counts)
    assert len(staged) == len(set(staged))
    assert staged == [paper for paper in whole if paper in set(staged)]
    assert {paper for paper in whole if paper >= 200} <= set(staged)
    for limit in (1, 4, in_span, in_span + 1):
        assert walk(limit)[0] == staged
    if query == "learning with neural networks":
        # The older abstract with the words in a row is left for newer, looser matches; the
        # titles with them all are still found however old.
        assert 150 in whole
        assert 150 not in staged
        assert staged[:4] == whole[:4]
        assert min(staged[:4]) < 200


@sqlite_only
@pytest.mark.parametrize(
    ("query", "rare"),
    [
        # An exclusion: FTS5 reads the excluded word's postings whole, span or not.
        ("learning with neural networks -graph", ""),
        # An acronym whose letters are rare, though its long form's words are common.
        ("GNN", "gnn"),
    ],
)
def test_a_mix_with_an_exclusion_or_a_rare_reading_is_read_whole(
    library: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, query: str, rare: str
) -> None:
    with library.begin() as session:
        session.execute(insert(PaperRow), [row(t, a, id=i) for i, t, a in FRESH])
        insert_terms(session, FRESH)
    monkeypatch.setattr(
        store.Fts5Search, "_word_common", lambda self, session, word, floor: word != rare
    )
    monkeypatch.setattr(store, "RECENT_ENOUGH", 3)
    whole = find(library, query, limit=50)
    assert whole.results
    spans = _split_into_spans(monkeypatch)
    outcome = find(library, query, limit=50)
    assert (0, store.MAX_ID) in spans
    assert (200, store.MAX_ID) not in spans
    assert titles(outcome) == titles(whole)
    assert (outcome.matches, outcome.capped) == (whole.matches, whole.capped)


def test_the_last_page_of_a_search_among_the_newest_matches_says_so() -> None:
    result = SearchResult("A paper", None, "https://example.org/1", None, "Its abstract.")
    last = SearchOutcome("graph", None, None, (result,), offset=4, matches=5, capped=True)
    hint = "older papers may match too"
    assert "Papers 5 to 5 of 5+" in search_page(last)
    assert hint in search_page(last)
    for outcome in (
        dataclasses.replace(last, capped=False),  # every match was counted
        dataclasses.replace(last, matches=9),  # a next page is offered
        # Capped for another reason, which the message gives.
        dataclasses.replace(last, message="filtered among the best 500 matches of the words"),
    ):
        assert hint not in search_page(outcome)


@pytest.fixture(scope="module")
def shared_library(
    seeded_url: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    # A copy: a connection to the seeded database would keep PostgreSQL from copying it.
    engine = db.make_engine(copy_of(seeded_url, request, tmp_path_factory.mktemp("shared")))
    yield db.make_sessions(engine)
    engine.dispose()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=st.text(max_size=300))
def test_any_text_is_a_valid_query(shared_library: sessionmaker[Session], query: str) -> None:
    outcome = find(shared_library, query, limit=3)
    assert len(outcome.results) <= 3
    assert outcome.matches >= len(outcome.results)


def test_other_databases_are_refused_clearly() -> None:
    engine = create_mock_engine("mysql://", lambda *args, **kwargs: None)
    session = Session(bind=engine)  # type: ignore[arg-type]
    with pytest.raises(SearchUnavailable, match="search is not available on mysql"):
        search(session, "graph")


# The command.


@pytest.fixture
def cli_library(
    seeded_url: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    url = copy_of(seeded_url, request, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["search", *args])
    return code, capsys.readouterr().out


def test_cli_json(cli_library: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--json", "--limit", "2", "tranformer")
    assert code == 0
    answer = json.loads(out)
    assert answer["query"] == "tranformer"
    assert answer["corrected"] == "transformer"
    assert answer["message"] == "showing results for transformer"
    assert answer["more"] is True
    assert len(answer["results"]) == 2
    for result in answer["results"]:
        assert set(result) == {"title", "arxiv_id", "url", "date", "snippet"}
        assert MARK_START not in result["snippet"]
    code, out = run(capsys, "--json", "zzzqqqxx")
    assert (code, json.loads(out)["results"], json.loads(out)["corrected"]) == (0, [], None)


def test_cli_text(cli_library: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "graph", "neural", "--limit", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("  1. ")
    assert "**graph**" in out.lower()
    assert lines[-1].startswith("results 1-2 of ")
    assert lines[-1].endswith("next page: --offset 2")

    assert run(capsys, "tranformer")[1].startswith("showing results for transformer\n")
    assert run(capsys, "zzzqqqxx") == (0, "no papers match zzzqqqxx\n")
    assert run(capsys) == (0, EMPTY_QUERY + "\n")
    assert run(capsys, "'; DROP TABLE papers; --")[0] == 0
    with cli_library.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM papers")) == 504


def test_cli_rejects_a_limit_over_50(cli_library: Engine) -> None:
    with pytest.raises(SystemExit):
        cli.main(["search", "graph", "--limit", "51"])


def test_an_old_exact_title_ranks_first_in_a_common_query(
    library: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A common query ranks only its newest matches, but the title tiers are looked for
    through the whole library: the oldest paper with the words in its title comes before
    every paper without them."""
    with library() as session:
        oldest = session.scalar(select(func.min(PaperRow.id))) or 0
    fresh = [(100_000 + n, f"Fresh study {n}", "Quantized weights, recently.") for n in range(5)]
    with library.begin() as session:
        session.execute(insert(PaperRow), [row(t, a, id=i) for i, t, a in fresh])
        session.execute(
            text("UPDATE papers SET title = :title WHERE id = :id"),
            {"title": "Quantization of everything", "id": oldest},
        )
        insert_terms(session, [*fresh, (oldest, "Quantization of everything", "Old.")])
    monkeypatch.setattr(store, "RECENT_ENOUGH", 3)
    outcome = find(library, "quantization", limit=50)
    # Five recent papers say only "quantized" (the word family); old titles say it exactly.
    assert outcome.capped
    found = titles(outcome)
    fresh_at = [found.index(f"Fresh study {n}") for n in range(5)]
    title_at = [i for i, title in enumerate(found) if "quantization" in title.lower()]
    assert found.index("Quantization of everything") in title_at
    assert len(title_at) > 1
    assert max(title_at) < min(fresh_at)


postgres_only = pytest.mark.parametrize("seeded_url", ["postgresql"], indirect=True)


@postgres_only
def test_postgres_keeps_the_newest_papers_apart_and_old_ones_findable(
    library: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's table of the newest papers (migration 0010) works as SQLite's recent
    index: old papers leave it and are found through the whole library, and a common query
    ranks only its newest matches."""
    expected = everything(library, "graph hypernetworks")
    assert expected
    fresh = [(100_000 + n, f"Fresh graph paper {n}", "graph learning, recently") for n in range(3)]
    with library.begin() as session:
        session.execute(insert(PaperRow), [row(t, a, id=i) for i, t, a in fresh])
        insert_terms(session, fresh)
    with library() as session:
        recent = session.scalars(text(f"SELECT id FROM {store.RECENT_INDEX}")).all()
    assert sorted(recent) == [100_000, 100_001, 100_002]
    assert_indexes_intact(library)
    # Rare: looked for through the whole library once, for the broadest tier; every other
    # tier is looked for among its matches.
    everywhere: list[store.Tier] = []
    look_everywhere = store.PostgresSearch._everywhere

    def spy(
        self: store.PostgresSearch,
        session: Session,
        plan: store.Plan,
        tier: store.Tier,
        needed: int,
    ) -> object:
        everywhere.append(tier)
        return look_everywhere(self, session, plan, tier, needed)

    monkeypatch.setattr(store.PostgresSearch, "_everywhere", spy)
    assert everything(library, "graph hypernetworks") == expected
    everywhere.clear()
    outcome = find(library, "graph hypernetworks", limit=50)
    assert len(everywhere) == 1
    assert (outcome.matches, outcome.capped) == (len(expected), False)
    # Common (3 recent matches are enough here): only the recent matches are ranked; the
    # title tiers alone are looked for through the whole library.
    monkeypatch.setattr(store, "RECENT_ENOUGH", 3)
    everywhere.clear()
    outcome = find(library, "graph", limit=50)
    assert sorted(titles(outcome)) == [f"Fresh graph paper {n}" for n in range(3)]
    assert (outcome.matches, outcome.capped) == (3, True)
    assert not outcome.more
    assert all(store.titles_only(tier) for tier in everywhere)


def test_postgres_keys_by_part_find_exactly_a_clause() -> None:
    """A clause's keys among the newest papers (migration 0010: "W word", "W word word")
    are exact for words and pairs; a longer phrase is checked against the tsvector."""
    words = store.Clause("exact", (("graph",), ("graphs",)))
    assert store._any_keys(words, parts=True) == ["A graph", "A graphs", "B graph", "B graphs"]
    longer = store.Clause("family", (("graph", "neural", "network"),))
    assert store._any_keys(longer, parts=True) == ["C graph neural", "D graph neural"]
    # Migration 0005's keys, of every part: a phrase by its first pair, not by its words.
    assert store._any_keys(longer, parts=False) == ["graph neural"]
    pair = store.Clause("title_exact", (("neural", "network"),))
    assert store._keys(pair.phrases[0], "A") == {"A neural network"}
    assert store._keys(("graph",), "A") == {"A graph"}
    assert store._exact([words, pair])
    assert not store._exact([words, longer])


@sqlite_only
def test_tiers_of_a_rare_query_are_checked_among_its_broadest_tiers_matches(
    library: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the whole library, a rare query's broadest tier is read from the index once;
    every other tier's matches are among those, and are found there: the same papers."""
    queries = [
        "graph hypernetworks",
        '"graph hypernetworks" -survey',
        "graph hypernetwork* -review",
    ]
    expected = {query: everything(library, query) for query in queries}
    assert all(expected.values())
    fresh = [(100_000 + n, f"Fresh study {n}", "Nothing in common, recently.") for n in range(3)]
    with library.begin() as session:
        session.execute(insert(PaperRow), [row(t, a, id=i) for i, t, a in fresh])
        insert_terms(session, fresh)
    read: list[str] = []
    newest = store._newest

    def spy(session: Session, index: str, query: str, floor: int = 0) -> list[int]:
        if index != store.RECENT_INDEX:
            read.append(index)
        return newest(session, index, query, floor)

    monkeypatch.setattr(store, "_newest", spy)
    recent: list[str] = []
    window = store.Fts5Search._window

    def window_spy(session: Session, expression: str, floor: int) -> tuple[int, int]:
        recent.append(expression)
        return window(session, expression, floor)

    monkeypatch.setattr(store.Fts5Search, "_window", staticmethod(window_spy))
    outcome = find(library, "graph hypernetworks", limit=50)
    assert read == [store.FTS_INDEX]
    # Nor is the recent index read again for each tier: only the count's window, and the
    # words whose commonness decides what is scored.
    assert len(recent) == 1 + len([e for e in recent if e.startswith('"')])
    assert (outcome.matches, outcome.capped) == (len(expected["graph hypernetworks"]), False)
    for query in queries:
        assert everything(library, query) == expected[query], query


def test_matching_leaves_out_alternatives_the_clauses_cover() -> None:
    """Finding a tier's matches skips an alternative every paper with the tier's clauses
    already has (the words in a row, as the query read as one keyword often is); an
    alternative of other words, or in other columns, stays. Ranking keeps them all."""
    words = tuple(store.Clause("family", ((word,),)) for word in ("graph", "neural", "network"))
    in_a_row = (store.Clause("family", (("graph", "neural", "network"),)),)
    acronym = (store.Clause("family", (("gnn",), ("graph", "neural", "network"))),)
    elsewhere = (store.Clause("exact", (("graph", "neural", "network"),)),)
    tier = store.Tier(words, (in_a_row, acronym, elsewhere))
    assert store.matched(tier) == store.Tier(words, (acronym, elsewhere))
    assert store.matched(store.Tier(words)) == store.Tier(words)
    # A clause of alternative phrases is covered when each of its phrases holds one.
    either = store.Clause("family", (("graph",), ("graphs",)))
    both = (store.Clause("family", (("graph", "neural"), ("graphs", "neural"))),)
    assert store.matched(store.Tier((either,), (both,))) == store.Tier((either,))


@postgres_only
def test_postgres_looks_past_the_newest_span_only_when_it_is_sparse(
    library: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Among the newest papers a tier is looked for in the newest SPAN first, and in the
    older of the newest papers only when the span has fewer than WINDOW candidates, in the
    same statement: the same newest candidates are found either way, so the same results,
    one statement a tier. The span holds its papers alone, whatever the tier's
    alternatives."""
    fresh = [(100_000 + n, f"Fresh graph paper {n}", "graph learning, recently") for n in range(5)]
    with library.begin() as session:
        session.execute(insert(PaperRow), [row(t, a, id=i) for i, t, a in fresh])
        insert_terms(session, fresh)
    monkeypatch.setattr(store, "RECENT_ENOUGH", 3)
    runs: list[tuple[bool, store.Tier, int, list[int], list[int]]] = []
    spans: list[int] = []
    run = store.PostgresSearch._run

    def spy(session: Session, plan: store.Plan, tier: store.Tier, *args: Any) -> store._Found:
        found = run(session, plan, tier, *args)
        if store.RECENT_INDEX in args[1]:
            spanned = "id + 0 > :low" in args[1]
            runs.append((spanned, tier, found.candidates, found.matches, found.best))
            if spanned:  # what the span alone holds
                span = args[1].split(" SELECT id FROM span UNION ALL ")[0]
                spans.append(session.scalar(text(span + " SELECT count(*) FROM span"), args[2]))
        return found

    monkeypatch.setattr(store.PostgresSearch, "_run", staticmethod(spy))
    expected = find(library, "graph learning", limit=50)
    assert runs
    assert not any(spanned for spanned, *_ in runs)
    unspanned = [found for _, *found in runs]
    # The newest 2 papers are the span: fewer than WINDOW (2000) candidates there, so the
    # older ones are read too; with a WINDOW of 2, the span's are enough.
    monkeypatch.setattr(store, "SPAN", 2)
    for window in (store.WINDOW, 2):
        monkeypatch.setattr(store, "WINDOW", window)
        runs.clear()
        spans.clear()
        outcome = find(library, "graph learning", limit=50)
        assert runs
        assert all(spanned for spanned, *_ in runs)
        if window > 2:
            assert outcome == expected
            assert [found for _, *found in runs] == unspanned
            # Only the span's papers, also for a tier with alternatives (the words, or the
            # query read as one keyword): the span is not the last alternative's alone.
            assert len(spans) == len(runs)
            assert max(spans) == 2
        else:  # the span's 2 are the newest candidates
            assert runs[0][2:4] == (2, [100_004, 100_003])


def test_known_matches_read_keys_as_fts5_does() -> None:
    """A rare query's tiers are checked in the analysed texts of its matches by looking for
    each phrase's keys between spaces: an empty key (two spaces) is no word to FTS5, so it
    does not come between two words of a phrase there either."""
    assert store._spaced("graph neural") == " graph neural "
    assert store._spaced("graph  neural ") == " graph neural "
    known = store._Known([1, 2], [(2, (" a ", " graph neural ", " ", " ")), (1, (" b ",) * 4)])
    phrase = store.Clause("abstract_exact", (("graph", "neural"),))
    assert known.matching(store.Tier((phrase,)), ()) == [2]
    assert known.matching(store.Tier((phrase,)), (store.Clause("title_exact", (("a",),)),)) == []
