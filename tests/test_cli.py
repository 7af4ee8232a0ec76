"""`paperboy ingest` and `paperboy stats` end to end, including every kind of bad input."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import cli, cli_preview, cli_store, figures, ingest, operations
from bot.config import Settings
from storage import db, queries, revision, subscriptions
from storage.counts import sqlite_stats
from storage.models import PaperRow, SourceRow
from tests.conftest import FIXTURES
from tests.httpserver import LocalServer, Reply, hang, serve
from tests.snapshots import snapshot


@pytest.fixture(autouse=True)
def environment(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run where no .env file can leak in, with short network limits for the URL tests.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", db_url)
    monkeypatch.setenv("PAPERBOY_HTTP_TIMEOUT", "0.3")
    monkeypatch.setenv("PAPERBOY_HTTP_RETRIES", "1")
    monkeypatch.setenv("PAPERBOY_HTTP_BACKOFF", "0.01")


@pytest.fixture
def server(seed_pages: list[Path]) -> Iterator[LocalServer]:
    routes = {
        "/seed.txt": Reply(body=seed_pages[0].read_bytes()),
        "/gone": Reply(404, b"not here"),
        "/broken": Reply(500, b"oops"),
        "/slow": hang(10),
    }
    with serve(routes) as local:
        yield local


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().out


def stats(capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    code, out = run(capsys, "stats", "--json")
    assert code == 0
    figures: dict[str, int] = json.loads(out)
    return figures


def test_ingest_seeds_twice(
    capsys: pytest.CaptureFixture[str], seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(capsys, "ingest", str(seeds_dir))
    assert code == 0, out
    assert out.count("ingested   ") == 5
    assert "papers parsed 603, new 504, known 99, enriched 0" in out

    # The second run must not even parse: every page is recognised by its content hash.
    def no_parsing(data: bytes) -> None:
        raise AssertionError("an unchanged page was parsed again")

    monkeypatch.setattr(ingest, "parse_page", no_parsing)
    code, out = run(capsys, "ingest", str(seeds_dir))
    assert code == 0, out
    assert out.count("unchanged  ") == 5
    assert "0 ingested, 5 unchanged, 0 failed); papers parsed 0, new 0" in out
    figures = stats(capsys)
    assert (figures["papers"], figures["sources"], figures["failing_sources"]) == (504, 5, 0)


def test_json_report(capsys: pytest.CaptureFixture[str], seed_pages: list[Path]) -> None:
    code, out = run(capsys, "ingest", "--json", str(seed_pages[0]), str(seed_pages[1]))
    assert code == 0
    report = json.loads(out)
    assert [s["status"] for s in report["sources"]] == ["ingested", "ingested"]
    assert report["sources"][0]["format"] == "hf-text"
    assert report["sources"][0]["parsed"] == 72
    assert report["totals"]["new"] == report["sources"][0]["new"] + report["sources"][1]["new"]
    assert report["totals"]["failed"] == 0


def _truncated_seed(seed: Path) -> bytes:
    data = seed.read_bytes()
    return data[: data.rindex(b" the ", 0, len(data) - 200)]


BAD_FILES: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "empty.txt": (lambda seed: b"", "empty page"),
    "binary.bin": (lambda seed: bytes(range(256)) * 4, "not UTF-8"),
    "truncated.txt": (_truncated_seed, "truncated page"),
    "nopapers.html": (
        lambda seed: b"<!doctype html><html><body><div>No papers today</div></body></html>",
        "without Hugging Face paper data",
    ),
    "invalid.json": (lambda seed: b'[{"paper": {"id": "2401.01234", "title": ', "invalid JSON"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_fails_clearly_and_changes_nothing(
    name: str,
    capsys: pytest.CaptureFixture[str],
    seed_pages: list[Path],
    engine: Engine,
    tmp_path: Path,
) -> None:
    assert run(capsys, "ingest", str(seed_pages[1]))[0] == 0
    make, reason = BAD_FILES[name]
    bad = tmp_path / name
    bad.write_bytes(make(seed_pages[0]))
    before = snapshot(engine, skip=frozenset({"sources"}))

    code, out = run(capsys, "ingest", str(bad))

    assert code == 1
    assert f"FAILED     {name}: " in out
    assert reason in out
    assert snapshot(engine, skip=frozenset({"sources"})) == before
    with engine.connect() as connection:
        error = connection.scalar(
            select(SourceRow.last_error).where(SourceRow.location == str(bad))
        )
    assert error is not None
    assert reason in error


def test_one_bad_source_does_not_stop_the_others(
    capsys: pytest.CaptureFixture[str], seed_pages: list[Path], tmp_path: Path
) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    code, out = run(
        capsys,
        "ingest",
        str(tmp_path / "empty.txt"),
        str(tmp_path / "missing.txt"),
        str(seed_pages[0]),
    )
    assert code == 1
    assert "FAILED     missing.txt: no such file or directory" in out
    assert "1 ingested, 0 unchanged, 2 failed" in out
    figures = stats(capsys)
    assert (figures["papers"], figures["failing_sources"]) == (72, 2)


def test_directory_skips_hidden_files(
    capsys: pytest.CaptureFixture[str], seed_pages: list[Path], tmp_path: Path
) -> None:
    pages = tmp_path / "pages"
    (pages / "nested").mkdir(parents=True)
    (pages / "nested" / "a.txt").write_bytes(seed_pages[0].read_bytes())
    (pages / ".DS_Store").write_bytes(b"\x00\x01binary")
    code, out = run(capsys, "ingest", str(pages))
    assert code == 0, out
    assert "total: 1 sources" in out


def test_urls(capsys: pytest.CaptureFixture[str], server: LocalServer, engine: Engine) -> None:
    assert run(capsys, "ingest", server.url("/seed.txt"))[0] == 0
    before = snapshot(engine, skip=frozenset({"sources"}))

    code, out = run(
        capsys, "ingest", server.url("/gone"), server.url("/broken"), server.url("/slow")
    )

    assert code == 1
    assert f"FAILED     {server.url('/gone')}: HTTP 404 Not Found" in out
    assert (
        f"FAILED     {server.url('/broken')}: HTTP 500 Internal Server Error after 2 attempts"
        in out
    )
    assert f"FAILED     {server.url('/slow')}: timed out (0.3 s limit) after 2 attempts" in out
    assert server.count("/gone") == 1
    assert snapshot(engine, skip=frozenset({"sources"})) == before
    assert stats(capsys)["failing_sources"] == 3


def test_database_failure_mid_page_stores_nothing(
    capsys: pytest.CaptureFixture[str],
    seed_pages: list[Path],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run(capsys, "ingest", str(seed_pages[0]))[0] == 0
    before = snapshot(engine, skip=frozenset({"sources"}))

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OperationalError("UPDATE sources", {}, Exception("database or disk is full"))

    # The papers of the page are already added to the session when the failure strikes.
    monkeypatch.setattr(queries, "record_source_ingested", disk_full)
    code, out = run(capsys, "ingest", str(seed_pages[1]))

    assert code == 1
    assert "database error: OperationalError" in out
    assert snapshot(engine, skip=frozenset({"sources"})) == before


@pytest.mark.parametrize("atom_first", [False, True])
def test_text_page_and_atom_entry_make_one_paper(
    atom_first: bool, capsys: pytest.CaptureFixture[str], seed_pages: list[Path], engine: Engine
) -> None:
    seed = next(p for p in seed_pages if b"SubscribeStitchable Neural Networks" in p.read_bytes())
    sources = [str(seed), str(FIXTURES / "arxiv_api.xml")]
    for source in reversed(sources) if atom_first else sources:
        assert run(capsys, "ingest", source)[0] == 0
    with engine.connect() as connection:
        rows = connection.execute(
            select(PaperRow.arxiv_id, PaperRow.authors).where(
                PaperRow.title_key == "stitchable neural networks"
            )
        ).all()
    assert len(rows) == 1
    assert rows[0].arxiv_id == "2302.06586"
    assert rows[0].authors


def test_console_script(tmp_path: Path, seed_pages: list[Path], db_url: str) -> None:
    """The installed `paperboy` entry point, in a real process."""
    script = Path(sys.executable).with_name("paperboy")
    env = {**os.environ, "PAPERBOY_DATABASE_URL": db_url}
    version = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("paperboy ")
    done = subprocess.run(
        [script, "ingest", str(seed_pages[0])],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "parsed 72, new 72" in done.stdout
    bad = subprocess.run(
        [script, "ingest", str(tmp_path / "nope.txt")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    assert "no such file or directory" in bad.stdout


# What a command must not load unless it needs it: each takes a tenth of a second or more.
HEAVY = frozenset(
    {"telegram", "apscheduler", "sklearn", "numpy", "sqlalchemy", "pydantic", "alembic"}
    | {"httpx", "tqdm", "spellchecker"}
)


def _loaded_by(args: list[str], cwd: Path) -> set[str]:
    """The heavy packages a fresh process has imported once the command line has run
    these arguments (--version exits from the parser: that is its whole run)."""
    program = (
        "import contextlib, json, sys\n"
        "from bot import cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(sys.stderr):\n"
        f"    cli.main({args!r})\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=cwd, check=True
    )
    return set(json.loads(done.stdout)) & HEAVY


@pytest.mark.backends("sqlite")  # the environment's database goes unused
@pytest.mark.parametrize("args", [["--version"], ["--help"], ["stats", "--help"]])
def test_the_version_and_help_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    assert _loaded_by(args, tmp_path) == set()


def test_stats_imports_only_the_settings(db_url: str, tmp_path: Path) -> None:
    """Nor Telegram's stack, nor the scheduler, nor numpy, nor Alembic: the schema is
    already the newest (the environment fixture points at a migrated database). A SQLite
    file is read without SQLAlchemy; PostgreSQL through it."""
    through = set() if db_url.startswith("sqlite") else {"sqlalchemy"}
    assert _loaded_by(["stats"], tmp_path) == {"pydantic"} | through


@pytest.mark.backends("sqlite")  # the environment's database goes unused
def test_default_database_is_created_under_data(
    tmp_path: Path, seed_pages: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERBOY_DATABASE_URL")
    assert cli.main(["ingest", str(seed_pages[0])]) == 0
    assert (tmp_path / "data" / "paperboy.db").is_file()


def test_force_parses_unchanged_pages_again(
    capsys: pytest.CaptureFixture[str], seed_pages: list[Path]
) -> None:
    assert run(capsys, "ingest", str(seed_pages[0]))[0] == 0
    code, out = run(capsys, "ingest", "--force", str(seed_pages[0]))
    assert code == 0
    assert "parsed 72, new 0, known 72, enriched 0" in out


def test_preview_json(capsys: pytest.CaptureFixture[str], seeds_dir: Path) -> None:
    assert run(capsys, "ingest", str(seeds_dir))[0] == 0
    labelled = {
        entry["keyword"]: set(entry["relevant"])
        for entry in json.loads((FIXTURES / "labelled_keywords.json").read_text(encoding="utf-8"))
    }
    for keyword in ("GNN", "tranformers", "quantisation", "low-rank", "knowlege distillation"):
        code, out = run(capsys, "preview", "--keyword", keyword, "--json")
        assert code == 0
        rows = json.loads(out)
        assert {row["title"] for row in rows} == labelled[keyword], keyword
        assert all(row["matched"] == [keyword] and "arxiv_id" in row for row in rows)
    # An excluding keyword right after -k is a keyword, not an unknown option.
    code, out = run(capsys, "preview", "-k", "MoE", "-k", "-sparse", "--json")
    assert code == 0
    _, sparse = run(capsys, "preview", "-k", "sparse", "--json")
    excluded = {row["title"] for row in json.loads(sparse)} & labelled["MoE"]
    assert excluded
    assert {row["title"] for row in json.loads(out)} == labelled["MoE"] - excluded


def test_preview_reads_keywords_as_subscribe_does(capsys: pytest.CaptureFixture[str]) -> None:
    sample = Path(cli.__file__).parent / "data" / "sample_page.txt"
    assert run(capsys, "ingest", str(sample))[0] == 0
    keywords = ["-k", "GNN pruning diffusion", "-k", "a", "-k", "pruning.", "-k", "-survey"]
    code = cli.main(["preview", *keywords, "--keyword=-transformers", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err.splitlines() == [
        'paperboy: left out "a": a single letter matches almost every paper',
        'paperboy: previewed "GNN pruning diffusion" as one phrase, but it looks like 3 '
        "keywords: did you mean -k GNN -k pruning -k diffusion? (/subscribe would ask; "
        "quoted, -k '\"GNN pruning diffusion\"', it is one phrase)",
    ]
    # The JSON is as before: the cleaned keyword matched (the questioned phrase is
    # previewed as typed, and matches nothing here), exclusions applied.
    rows = json.loads(captured.out)
    assert rows == [
        {
            "title": "Pruning Mixture-of-Experts Layers Without Retraining",
            "arxiv_id": None,
            # No arXiv id nor page: every paper still has a link, an arXiv title search.
            "url": "https://arxiv.org/search/?query=Pruning+Mixture-of-Experts+Layers"
            "+Without+Retraining&searchtype=title",
            "authors": [],
            "categories": [],
            "matched": ["pruning"],
            "where": {"pruning": "title"},
        }
    ]
    # Quoted, the phrase is previewed as one; -k -survey alone excludes from nothing.
    code = cli.main(["preview", "-k", '"GNN pruning diffusion"', "-k", "-survey"])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    assert captured.out.startswith("0 of 6 stored papers match GNN pruning diffusion, -survey")
    # Nothing left to preview: one line, and the usage exit code.
    code = cli.main(["preview", "-k", "the", "-k", "..."])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.splitlines() == [
        'paperboy: left out "the": too common a word to pick papers',
        "paperboy: no keyword left to preview",
    ]


def test_digest_and_preview_say_when_no_chat_is_subscribed(
    capsys: pytest.CaptureFixture[str], engine: Engine
) -> None:
    """No subscriber at all is not "every chat has had today's digest"; an unknown chat
    is an error on stderr, not an empty preview."""
    code, out = run(capsys, "digest", "--now", "--dry-run")
    assert (code, out) == (0, cli_preview.NO_SUBSCRIBERS + "\n")
    for args in (["preview", "--chat", "999"], ["digest", "--now", "--dry-run", "--chat", "999"]):
        code = cli.main(args)
        captured = capsys.readouterr()
        assert code == 1, args
        assert captured.out == ""
        assert captured.err.splitlines() == [
            "paperboy: chat 999 is not known (it has never written to the bot)"
        ]
    with db.make_sessions(engine).begin() as session:
        row = subscriptions.enroll(session, 7, "private", datetime.now(UTC))
        subscriptions.set_paused(row, True)
    assert run(capsys, "digest", "--now", "--dry-run") == (0, cli_preview.NONE_RECEIVING + "\n")
    assert run(capsys, "preview", "--chat", "7") == (0, "chat 7: nothing new\n")


def test_stats_read_with_sqlite3_agree_with_sqlalchemy(
    capsys: pytest.CaptureFixture[str],
    seed_pages: list[Path],
    sessions: sessionmaker[Session],
    db_url: str,
) -> None:
    """The quick way (SQLite only) and the usual one count the same rows the same way."""
    assert run(capsys, "ingest", str(seed_pages[0]), str(seed_pages[0] / "nope"))[0] == 1
    now = datetime(2026, 3, 11, tzinfo=UTC)
    with sessions.begin() as session:
        for chat_id in (1, 2, 3):
            row = subscriptions.enroll(session, chat_id, "private", now)
            subscriptions.add_keywords(row, ["diffusion", "graph"][: chat_id - 1])
        subscriptions.deactivate(session, 3)
    quick = stats(capsys)
    settings = Settings()
    engine = operations.open_database(settings.database_url)
    try:
        args = cli.build_parser().parse_args(["stats", "--json"])
        assert cli_store.cmd_stats(args, settings, engine) == 0
    finally:
        engine.dispose()
    usual: dict[str, int] = json.loads(capsys.readouterr().out)
    assert quick == usual
    assert {k: v for k, v in quick.items() if k != "database"} == {
        "papers": 72,
        "papers_with_arxiv_id": usual["papers_with_arxiv_id"],
        "sources": 2,
        "failing_sources": 1,
        "subscribers": 3,
        "active_subscribers": 2,
        "keywords": 3,
        "deliveries": 0,
    }
    if db_url.startswith("sqlite"):
        assert figures.plain_sqlite_file(db_url) is not None  # the quick way was taken


@pytest.mark.backends("sqlite")  # the environment's database goes unused
def test_stats_migrates_a_sqlite_file_without_the_schema_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quick way only reads a current schema; any other takes the usual way, which
    upgrades it (as every command does) and then counts."""
    path = tmp_path / "bare.db"
    sqlite3.connect(path).close()
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{path}")
    assert sqlite_stats(path, revision.newest_revision()) is None
    assert stats(capsys)["papers"] == 0
    with sqlite3.connect(path) as connection:
        stored = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert stored == (revision.newest_revision(),)


@pytest.mark.backends("sqlite")  # the environment's database goes unused
@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite:///data/p.db", "data/p.db"),
        ("sqlite:////abs/p.db", "/abs/p.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///p.db?mode=ro", None),
        ("sqlite:///p%20q.db", None),
        ("sqlite+pysqlite:///p.db", None),
        ("postgresql://u:p@h/db", None),
    ],
)
def test_only_plain_sqlite_urls_take_the_quick_way(url: str, file: str | None) -> None:
    expected = None if file is None else Path(file).absolute()
    assert figures.plain_sqlite_file(url) == expected
