"""The recommender with the sentence model installed: each paper's vector is made once and
stored, the chat's ranker learns from words and vectors together, and a ranker learnt
without the model is refitted once it is there (and the other way round)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli, embedding, model_files, ranker, recommendations, vectors
from bot.records import Paper
from storage import feedback, queries, subscriptions
from storage.feedback import LibraryText
from storage.models import LibraryEntryRow, PaperVectorRow, ProfileRow
from tests.test_recommend import NOW, run
from tests.test_recommend import environment as environment  # autouse: chdir, database

LIBRARY = """
@misc{a, title = {Learning to prune: removing redundant weights from trained networks},
  abstract = {We shrink deep networks by deleting parameters that matter least.}}
@misc{b, title = {Quantized low-bit inference for compact neural models},
  abstract = {Weights and activations stored in four bits keep accuracy while saving memory.}}
"""


def _imported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The sixteen papers stored, and chat 7's library imported."""
    assert run(capsys, "ingest", str(_page(tmp_path / "page.json")))[0] == 0
    (tmp_path / "l.bib").write_text(LIBRARY, encoding="utf-8")
    assert run(capsys, "library", "import", "--chat", "7", str(tmp_path / "l.bib"))[0] == 0


COMPRESSION = [
    ("Sparse subnetworks found by magnitude pruning", "Removing small weights keeps accuracy."),
    ("Distilling a large teacher into a small student", "A compact model mimics a big one."),
    ("Eight-bit integer inference on phones", "Low precision arithmetic cuts latency."),
    ("Structured channel removal for faster CNNs", "Whole filters are dropped after training."),
    ("Low-rank factorisation of transformer layers", "Fewer parameters, same perplexity."),
    ("Weight sharing by hashing for tiny models", "Buckets of parameters share one value."),
    ("Mixed-precision training of compact networks", "Half precision saves memory."),
    ("Binary neural networks for microcontrollers", "One-bit weights run on small chips."),
]
WEATHER = [
    ("Forecasting monsoon rainfall from satellite imagery", "Cloud images predict rain."),
    ("Hurricane track prediction with ocean buoys", "Sea readings guide storm paths."),
    ("Downscaling global climate simulations", "Coarse climate fields are refined."),
    ("Nowcasting thunderstorms with radar echoes", "Radar sequences foretell storms."),
    ("Drought indices from soil moisture sensors", "Dry soil signals a coming drought."),
    ("Sea ice extent from passive microwave data", "Polar ice is mapped from orbit."),
    ("Heatwave attribution in regional records", "Hot summers are traced to warming."),
    ("Snowpack estimation for water supply planning", "Mountain snow feeds rivers."),
]


def _page(path: Path) -> Path:
    """A daily-papers page of sixteen short papers on two subjects."""
    entries = [
        {
            "paper": {
                "id": f"2501.{n:05d}",
                "authors": [{"name": "A. Author"}],
                "publishedAt": f"2025-01-{1 + n:02d}T00:00:00.000Z",
                "title": title,
                "summary": abstract,
                "upvotes": 0,
            },
            "publishedAt": f"2025-01-{1 + n:02d}T00:00:00.000Z",
            "title": title,
        }
        for n, (title, abstract) in enumerate(COMPRESSION + WEATHER)
    ]
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


@pytest.fixture
def with_model(
    capsys: pytest.CaptureFixture[str],
    sentence_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Commands run with the sentence model; the papers are stored and the library imported."""
    monkeypatch.setenv("PAPERBOY_MODEL_DIR", str(sentence_model))
    _imported(capsys, tmp_path)


def _vectors(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(PaperVectorRow)) or 0)


def _profile(sessions: sessionmaker[Session]) -> ranker.Model:
    """The chat's ranker, as stored."""
    with sessions() as session:
        return ranker.Model.from_json(session.scalars(select(ProfileRow.model)).one())


def _recommend(capsys: pytest.CaptureFixture[str], said: list[str] | None = None) -> list[Any]:
    """The chat's recommendations; what was logged goes into `said`."""
    assert cli.main(["recommend", "--chat", "7", "--limit", "10", "--json"]) == 0
    captured = capsys.readouterr()
    if said is not None:
        said.append(captured.err)
    found: list[Any] = json.loads(captured.out)
    return found


def test_vectors_are_made_once_and_learnt_from(
    capsys: pytest.CaptureFixture[str], with_model: None, sessions: sessionmaker[Session]
) -> None:
    assert _vectors(sessions) == 0  # ingest makes none: they cost far more than storing
    said: list[str] = []
    first = _recommend(capsys, said)
    assert "making the sentence vectors of 16 papers" in said[0]
    assert _vectors(sessions) == 16
    profile = _profile(sessions)
    assert isinstance(profile.dense, list)
    assert len(profile.dense) == 384
    # The library's two papers share almost no word with the compression papers.
    assert {r["title"] for r in first[:6]} <= {title for title, _ in COMPRESSION}, first
    again = _recommend(capsys, said)
    assert "sentence vectors" not in said[1]
    assert again == first


# The storage of vectors runs on both backends in the first test; this is logic above it.
@pytest.mark.backends("sqlite")
def test_a_ranker_follows_the_model_coming_and_going(
    capsys: pytest.CaptureFixture[str],
    sentence_model: Path,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PAPERBOY_MODEL_DIR", str(tmp_path / "no-model"))
    _imported(capsys, tmp_path)
    words = _recommend(capsys)
    assert _profile(sessions).dense is None
    assert _vectors(sessions) == 0
    monkeypatch.setenv("PAPERBOY_MODEL_DIR", str(sentence_model))
    both = _recommend(capsys)
    assert isinstance(_profile(sessions).dense, list)
    assert [r["score"] for r in both] != [r["score"] for r in words]
    monkeypatch.setenv("PAPERBOY_MODEL_DIR", str(tmp_path / "no-model"))
    assert _recommend(capsys) == words
    assert _profile(sessions).dense is None


# The storage of vectors runs on both backends in the first test; this is logic above it.
@pytest.mark.backends("sqlite")
def test_prepare_makes_the_newest_papers_vectors(
    capsys: pytest.CaptureFixture[str],
    sentence_model: Path,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run(capsys, "ingest", str(_page(tmp_path / "page.json")))[0] == 0
    model_files.configure(None)
    assert recommendations.prepare(sessions) == 0
    assert _vectors(sessions) == 0
    model_files.configure(sentence_model)
    # A stopping bot stops between batches: two of five made, then asked to stop.
    monkeypatch.setattr(recommendations, "PREPARED_AT_ONCE", 5)
    asked = iter([False, False, True])
    assert recommendations.prepare(sessions, lambda: next(asked)) == 10
    assert _vectors(sessions) == 10
    assert recommendations.prepare(sessions) == 6
    assert _vectors(sessions) == 16
    with sessions() as session:
        newest = [i for i, _ in subscriptions.newest_papers(session, 16)]
        found = recommendations.pool_of(session, newest[0], newest)
        assert found.features is not None
        assert found.features.dense is not None
        assert found.features.dense.shape == (16, 384)
        titles = {i: p.title for i, p in feedback.papers(session, newest).items()}
        pruning = next(i for i, title in titles.items() if "magnitude pruning" in title)
        # /similar: the nearest of the pool, never the paper itself.
        nearest = [i for i, _ in recommendations.similar(session, pruning, found, 4)]
    assert pruning not in nearest
    assert {titles[i] for i in nearest} <= {title for title, _ in COMPRESSION}


# The storage of vectors runs on both backends in the first test; this is logic above it.
@pytest.mark.backends("sqlite")
def test_a_damaged_model_is_one_warning_and_words_alone(
    capsys: pytest.CaptureFixture[str],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    (damaged / "tokenizer.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("PAPERBOY_MODEL_DIR", str(damaged))
    _imported(capsys, tmp_path)
    said: list[str] = []
    found = _recommend(capsys, said)
    assert len(found) == 10
    warnings = [line for line in said[0].splitlines() if "sentence model" in line]
    assert len(warnings) == 1
    assert "words alone" in warnings[0]
    assert "Traceback" not in said[0]
    assert _profile(sessions).dense is None
    assert _vectors(sessions) == 0


def test_vectors_made_in_a_session_that_only_reads_are_kept(
    sentence_model: Path, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        queries.store_papers(session, [Paper(t, a) for t, a in COMPRESSION], NOW)
    model = vectors.encoder()
    assert model is not None
    with sessions() as session:  # never committed, as a digest run's or /similar's
        ids = [i for i, _ in subscriptions.newest_papers(session, 100)]
        first = vectors.of_papers(session, model, ids)
        session.rollback()
    assert _vectors(sessions) == len(COMPRESSION)
    with sessions() as session:
        again = vectors.of_papers(session, model, ids)
    assert all(np.array_equal(first[i], again[i]) for i in ids)


@pytest.mark.backends("sqlite")
def test_the_models_memory_is_given_back_once_no_thread_encodes(
    sentence_model: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bot holds no weights' pages between batches of new papers; threads encoding at the
    same time keep them until the last is done."""
    with sessions.begin() as session:
        queries.store_papers(session, [Paper(t, a) for t, a in COMPRESSION + WEATHER], NOW)
        ids = [i for i, _ in subscriptions.newest_papers(session, 100)]
    model = vectors.encoder()
    assert model is not None
    events: list[str] = []
    real_encode, real_release = embedding.encode, embedding.release
    both_encoding = threading.Barrier(2, timeout=30)

    def encode_together(encoder: embedding.Encoder, texts: list[str]) -> np.ndarray:
        both_encoding.wait()
        made = real_encode(encoder, texts)
        events.append("encoded")
        return made

    def released(encoder: embedding.Encoder) -> None:
        events.append("released")
        real_release(encoder)

    monkeypatch.setattr(embedding, "encode", encode_together)
    monkeypatch.setattr(embedding, "release", released)
    made: list[int] = []

    def make(half: list[int]) -> None:
        with sessions() as session:
            made.extend(vectors.of_papers(session, model, half))

    threads = [threading.Thread(target=make, args=(half,)) for half in (ids[::2], ids[1::2])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == sorted(ids)
    assert events == ["encoded", "encoded", "released"]
    # Read again from the file: the same vectors.
    monkeypatch.setattr(embedding, "encode", real_encode)
    texts = [embedding.paper_text(t, a) for t, a in COMPRESSION]
    before = real_encode(model, texts)
    real_release(model)
    assert np.array_equal(real_encode(model, texts), before)


def _pruning_paper(sessions: sessionmaker[Session]) -> int:
    """A stored paper with a short abstract (a later ingest may enrich it); its id."""
    with sessions.begin() as session:
        queries.store_papers(session, [Paper("Pruning at scale", "We prune.")], NOW)
        return subscriptions.newest_papers(session, 1)[0][0]


def _library_entry(sessions: sessionmaker[Session]) -> LibraryText:
    """A library entry that is no stored paper, of a new chat's library."""
    with sessions.begin() as session:
        feedback.add_library(
            session,
            subscriptions.enroll(session, 7, "private", NOW).id,
            [feedback.LibraryRecord("Quantized inference", "q", "Four bits.", None, None)],
            NOW,
        )
    with sessions() as session:
        [entry] = feedback.feedback(session, 1).texts
    return entry


@pytest.mark.backends("sqlite")
def test_every_way_of_making_vectors_gives_the_memory_back(
    sentence_model: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Library entries too, and a batch that failed (vectors that are not numbers)."""
    paper_id = _pruning_paper(sessions)
    entry = _library_entry(sessions)
    model = vectors.encoder()
    assert model is not None
    released: list[embedding.Encoder] = []
    monkeypatch.setattr(embedding, "release", released.append)
    with sessions() as session:
        assert len(vectors.of_entries(session, model, [entry])) == 1
    assert released == [model]

    def not_numbers(encoder: embedding.Encoder, texts: list[str]) -> np.ndarray:
        return np.full((len(texts), embedding.DIMENSIONS), np.nan, dtype=np.float32)

    monkeypatch.setattr(embedding, "encode", not_numbers)
    with sessions() as session, pytest.raises(ValueError, match="not numbers"):
        vectors.of_papers(session, model, [paper_id])
    assert released == [model, model]
    assert vectors._encoding == 0


def test_a_longer_abstract_drops_the_old_vector(
    sentence_model: Path, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        queries.store_papers(session, [Paper("Pruning at scale", "We prune.")], NOW)
        queries.store_papers(session, [Paper(t, a) for t, a in WEATHER], NOW)
    model = vectors.encoder()
    assert model is not None
    with sessions() as session:
        ids = [i for i, _ in subscriptions.newest_papers(session, 100)]
        before = vectors.of_papers(session, model, ids)
    assert _vectors(sessions) == len(ids)
    longer = "We prune the weights of large language models, layer by layer, without retraining."
    with sessions.begin() as session:
        counts = queries.store_papers(session, [Paper("Pruning at scale", longer)], NOW)
    assert counts.enriched == 1
    assert _vectors(sessions) == len(ids) - 1
    with sessions() as session:
        [pruning] = [i for i, p in feedback.papers(session, ids).items() if p.title.startswith("P")]
        after = vectors.of_papers(session, model, ids)
    assert float(before[pruning] @ after[pruning]) < 0.99
    expected = embedding.encode(model, [embedding.paper_text("Pruning at scale", longer)])[0]
    assert float(after[pruning] @ expected) > 0.999


@pytest.mark.backends("sqlite")
def test_weights_changed_in_place_are_not_loaded(sentence_model: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "model"
    damaged.mkdir()
    for name in model_files.FILES:
        data = bytearray((sentence_model / name).read_bytes())
        if name == embedding.WEIGHTS:
            data[-4096:] = bytes(4096)  # zeroed in place: the header still reads
        (damaged / name).write_bytes(bytes(data))
    assert model_files.damaged(damaged) is not None
    model_files.configure(damaged)
    assert vectors.encoder() is None


def _entry_vectors(sessions: sessionmaker[Session]) -> dict[str, bytes | None]:
    with sessions() as session:
        rows = session.execute(select(LibraryEntryRow.title, LibraryEntryRow.vector)).all()
    return {str(title): vector for title, vector in rows}


@pytest.mark.backends("sqlite")
def test_library_entries_are_encoded_once_and_again_when_changed(
    capsys: pytest.CaptureFixture[str],
    with_model: None,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    assert set(_entry_vectors(sessions).values()) == {None}
    first = _recommend(capsys)
    kept = _entry_vectors(sessions)
    assert None not in kept.values()
    encoded: list[int] = []
    real = embedding.encode

    def counted(model: embedding.Encoder, texts: list[str]) -> np.ndarray:
        encoded.append(len(texts))
        return real(model, texts)

    monkeypatch.setattr(embedding, "encode", counted)
    with sessions.begin() as session:
        feedback.save(session, 1, subscriptions.newest_papers(session, 1)[0][0], True, NOW)
    assert _recommend(capsys) != first  # refitted: the saved paper is never recommended
    assert encoded == []
    assert _entry_vectors(sessions) == kept
    # The same entry imported with another abstract: its vector said the old one.
    changed = LIBRARY.replace("matter least", "matter least, layer by layer")
    (tmp_path / "l.bib").write_text(changed, encoding="utf-8")
    assert run(capsys, "library", "import", "--chat", "7", str(tmp_path / "l.bib"))[0] == 0
    again = _entry_vectors(sessions)
    assert sorted(v is None for v in again.values()) == [False, True]
    _recommend(capsys)
    assert encoded == [1]


@pytest.mark.backends("sqlite")
def test_a_ranker_fitted_while_the_chat_rated_a_paper_is_not_kept(
    capsys: pytest.CaptureFixture[str],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A 👎 tapped while a digest run fits the chat's ranker: the ranker, learnt without it,
    is not kept, or the disliked paper would be recommended until the next tap."""
    _imported(capsys, tmp_path)
    real = ranker.fit

    def tapped_meanwhile(found: ranker.Pool, examples: list[ranker.Example]) -> object:
        fitted = real(found, examples)
        with sessions.begin() as session:
            paper = subscriptions.newest_papers(session, 1)[0][0]
            feedback.rate(session, 1, paper, -1, NOW)
        return fitted

    monkeypatch.setattr(ranker, "fit", tapped_meanwhile)
    with sessions() as session:
        assert recommendations.model(session, 1, lambda: recommendations.pool(session), NOW)
    with sessions() as session:
        assert feedback.profiles(session, [1]) == {}


@pytest.mark.backends("sqlite")
def test_a_vector_made_while_its_paper_changed_is_not_kept(
    sentence_model: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    paper_id = _pruning_paper(sessions)
    model = vectors.encoder()
    assert model is not None
    real = embedding.encode

    def enriched_meanwhile(encoder: embedding.Encoder, texts: list[str]) -> np.ndarray:
        made = real(encoder, texts)
        with sessions.begin() as session:
            longer = Paper("Pruning at scale", "We prune the weights of large language models.")
            assert queries.store_papers(session, [longer], NOW).enriched == 1
        return made

    monkeypatch.setattr(embedding, "encode", enriched_meanwhile)
    with sessions() as session:
        assert paper_id in vectors.of_papers(session, model, [paper_id])  # used this once
    assert _vectors(sessions) == 0  # but not kept: it says what the old abstract said
    entry = _library_entry(sessions)

    def imported_again_meanwhile(encoder: embedding.Encoder, texts: list[str]) -> np.ndarray:
        made = real(encoder, texts)
        with sessions.begin() as session:
            again = feedback.LibraryRecord("Quantized inference", "q", "Two bits.", None, None)
            feedback.add_library(session, 1, [again], NOW)
        return made

    monkeypatch.setattr(embedding, "encode", imported_again_meanwhile)
    with sessions() as session:
        assert len(vectors.of_entries(session, model, [entry])) == 1
    assert _entry_vectors(sessions) == {"Quantized inference": None}
