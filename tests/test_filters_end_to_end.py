"""cat: and author: through `paperboy preview --json` and search, on an ingested feed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot import cli
from bot.search import search
from tests.conftest import FIXTURES

FEED = str(Path(FIXTURES) / "arxiv_crosslist.atom")


@pytest.fixture(autouse=True)
def environment(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", db_url)


def preview(capsys: pytest.CaptureFixture[str], *keywords: str) -> list[dict[str, object]]:
    assert cli.main(["ingest", FEED]) == 0
    capsys.readouterr()
    args = [part for keyword in keywords for part in ("-k", keyword)]
    assert cli.main(["preview", *args, "--json"]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def test_preview_json_by_category_and_author(capsys: pytest.CaptureFixture[str]) -> None:
    rows = preview(capsys, "cat:cs.cv")
    assert {row["arxiv_id"] for row in rows} == {"2411.10001", "2411.10002", "2411.10003"}
    # What a checker compares with the feed: every category and author as stored.
    jepa = next(row for row in rows if row["arxiv_id"] == "2411.10001")
    assert jepa["categories"] == ["cs.CV", "cs.LG", "stat.ML"]
    assert jepa["authors"] == ["Yann LeCun", "Jürgen Schäfl", "María García-López"]
    assert jepa["matched"] == ["cat:cs.CV"]
    assert jepa["where"] == {"cat:cs.CV": "category"}
    rows = preview(capsys, 'author:"Yann LeCun"')
    assert {row["arxiv_id"] for row in rows} == {"2411.10001", "2411.10003"}
    rows = preview(capsys, "cat:cs.CV diffusion", "-cat:cs.RO")
    assert {row["arxiv_id"] for row in rows} == {"2411.10001", "2411.10003"}


def test_preview_refuses_an_unknown_category(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ingest", FEED]) == 0
    capsys.readouterr()
    assert cli.main(["preview", "-k", "cat:cs.CLL", "--json"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        'paperboy: left out "cat:cs.CLL": cat:cs.CLL is not an arXiv category; did you mean '
        "cat:cs.CL (Computation and Language)?",
        "paperboy: no keyword left to preview",
    ]


def test_search_filters(
    sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ingest", FEED]) == 0
    with sessions() as session:

        def ids(query: str) -> set[str | None]:
            return {result.arxiv_id for result in search(session, query, limit=50).results}

        assert ids("diffusion") == {"2411.10001", "2411.10002", "2411.10003"}
        assert ids("cat:cs.LG diffusion") == {"2411.10001", "2411.10003"}
        assert ids("diffusion -cat:cs.RO") == {"2411.10001", "2411.10003"}
        assert ids("author:LeCun") == {"2411.10001", "2411.10002", "2411.10003"}
        assert ids('author:"Yann LeCun" diffusion') == {"2411.10001", "2411.10003"}
        assert ids("author:Hinton") == {"2411.10004"}
        assert search(session, "author:Hinton").matches == 1
        refused = search(session, "cat:cs.CLL pruning")
        assert refused.results == ()
        assert refused.message is not None
        assert "did you mean cat:cs.CL" in refused.message
    capsys.readouterr()
    assert cli.main(["search", "--json", "cat:cs.CL", "pruning"]) == 0
    assert "2411.10004" in capsys.readouterr().out
