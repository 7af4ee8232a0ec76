"""`paperboy library import` and `paperboy recommend` on the seed papers: the library
shapes the recommendations, and no paper of the library is ever recommended, even one
imported before its paper was stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot import cli, recommendations
from bot.sources import parse_page
from storage import feedback, queries, subscriptions
from storage.models import ProfileRow


@pytest.fixture(autouse=True)
def environment(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", db_url)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().out


def _titles(capsys: pytest.CaptureFixture[str], chat: int) -> list[dict[str, object]]:
    code, out = run(capsys, "recommend", "--chat", str(chat), "--limit", "100", "--json")
    assert code == 0
    found: list[dict[str, object]] = json.loads(out)
    return found


def _library(path: Path, titles: list[str]) -> Path:
    entries = [f"@misc{{e{n}, title = {{{title}}}}}" for n, title in enumerate(titles)]
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
ARCHITECTURE_SEARCH = [
    "Neural Architecture Search: A Survey",
    "DARTS: Differentiable Architecture Search",
    "Efficient Neural Architecture Search via Parameter Sharing",
]


def test_library_shapes_recommendations_and_is_never_recommended(
    capsys: pytest.CaptureFixture[str], seed_pages: list[Path], tmp_path: Path
) -> None:
    assert run(capsys, "ingest", *map(str, seed_pages))[0] == 0
    code, out = run(
        capsys,
        "library",
        "import",
        "--chat",
        "7",
        str(_library(tmp_path / "l.bib", ARCHITECTURE_SEARCH)),
    )
    assert code == 0
    assert "read 3 entries" in out
    found = _titles(capsys, 7)
    assert len(found) == 100
    assert set(found[0]) == {"title", "arxiv_id", "url", "score", "because"}
    assert not {str(r["title"]) for r in found} & set(ARCHITECTURE_SEARCH)
    top = [str(r["title"]).lower() for r in found[:5]]
    assert all("architecture" in t or "nas" in t or "search" in t for t in top), top
    assert all(str(r["because"]).startswith("your library has ") for r in found[:5])


def test_a_library_paper_stored_after_the_import_is_not_recommended(
    capsys: pytest.CaptureFixture[str],
    seed_pages: list[Path],
    tmp_path: Path,
    sessions: sessionmaker[Session],
) -> None:
    first, later = seed_pages[:-1], seed_pages[-1]
    assert run(capsys, "ingest", *map(str, first))[0] == 0
    with sessions() as session:
        stored = {paper.title for paper in queries.all_papers(session)}
    coming = [p.title for p in parse_page(later.read_bytes()).papers if p.title not in stored]
    library = _library(tmp_path / "later.bib", coming[:20])
    code, out = run(capsys, "library", "import", "--chat", "7", str(library))
    assert code == 0
    assert "matched 0" in out, out
    assert run(capsys, "ingest", str(later))[0] == 0
    found = {str(r["title"]) for r in _titles(capsys, 7)}
    assert len(found) == 100
    assert not found & set(coming[:20])


def test_unknown_chat_and_bad_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "recommend", "--chat", "99")[0] == 1
    assert run(capsys, "recommend", "--chat", "99", "--limit", "0")[0] == 2


def test_a_ranker_fitted_where_nothing_is_written_is_kept(
    capsys: pytest.CaptureFixture[str],
    seed_pages: list[Path],
    tmp_path: Path,
    sessions: sessionmaker[Session],
) -> None:
    """A digest run and /similar only read: the ranker they fit is kept all the same, so
    the next run scores with it instead of fitting it again."""
    assert run(capsys, "ingest", str(seed_pages[0]))[0] == 0
    library = _library(tmp_path / "l.bib", ARCHITECTURE_SEARCH)
    assert run(capsys, "library", "import", "--chat", "7", str(library))[0] == 0
    with sessions() as session:
        row = subscriptions.find(session, 7)
        assert row is not None
        chat = row.id
        assert feedback.profiles(session, [chat]) == {}
        fitted = recommendations.model(session, chat, lambda: recommendations.pool(session), NOW)
        assert fitted is not None
        session.rollback()
    with sessions() as session:
        assert feedback.profiles(session, [chat]) == {chat: fitted.to_json()}


@pytest.mark.parametrize(
    "damaged",
    [
        "not json",
        '{"format": 2, "weights": [["graph"], "***"], "bias": 0, "anchors": [], "known": []}',
        '{"format": 2, "weights": [["graph", "node"], "AAAAAAAA8D8="], "bias": 0, '
        '"anchors": [], "known": []}',
        '{"format": 3, "weights": {}, "bias": 0, "anchors": [], "known": []}',
        '{"weights": {"graph": 1.0}}',
    ],
)
def test_a_damaged_stored_ranker_is_fitted_again(
    capsys: pytest.CaptureFixture[str],
    seed_pages: list[Path],
    tmp_path: Path,
    sessions: sessionmaker[Session],
    damaged: str,
) -> None:
    """A stored ranker this version cannot read (damaged, edited by hand, of another
    format) costs the chat a fit, not its digest: it is fitted again and replaced."""
    assert run(capsys, "ingest", str(seed_pages[0]))[0] == 0
    library = _library(tmp_path / "l.bib", ARCHITECTURE_SEARCH)
    assert run(capsys, "library", "import", "--chat", "7", str(library))[0] == 0
    with sessions.begin() as session:
        row = subscriptions.find(session, 7)
        assert row is not None
        chat = row.id
        session.add(ProfileRow(subscriber_id=chat, model=damaged, fitted_at=NOW))
    with sessions() as session:
        fitted = recommendations.model(session, chat, lambda: recommendations.pool(session), NOW)
        assert fitted is not None
    with sessions() as session:
        assert feedback.profiles(session, [chat]) == {chat: fitted.to_json()}
    assert _titles(capsys, 7)  # recommends with the ranker fitted again
