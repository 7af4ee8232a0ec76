"""Local sources and the token file are read within bounds: hostile paths fail in one line."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import cli
from bot.config import ConfigError, Settings
from bot.fetch import FetchError, FetchPolicy, read_file
from bot.ingest import SourceError, expand_sources, is_url, read_source

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


def within(seconds: float, work: Callable[[], object]) -> object:
    """Run `work` in a thread; fail (instead of hanging the suite) if it takes longer."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:  # handed to the test below
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_a_file_within_the_cap_is_read(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_bytes(b"x" * 1000)
    assert read_file(page, 1000) == b"x" * 1000
    with pytest.raises(FetchError, match=r"^file of 1,000 bytes is over the 999-byte cap$"):
        read_file(page, 999)


def test_dev_zero_is_refused_not_read() -> None:
    with pytest.raises(FetchError, match=r"^not a regular file$"):
        read_file(Path("/dev/zero"), 1000)


def test_a_fifo_is_refused_without_waiting_for_a_writer(fifo: Path) -> None:
    outcome = within(10, lambda: read_file(fifo, 1000))
    assert isinstance(outcome, FetchError)
    assert str(outcome) == "not a regular file"


def test_a_directory_and_a_missing_file_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"^is a directory$"):
        read_file(tmp_path, 1000)
    with pytest.raises(FetchError, match=r"^no such file or directory$"):
        read_file(tmp_path / "nope", 1000)


@pytest.mark.parametrize(
    ("source", "scheme"),
    [("ftp://x", "ftp"), ("file:///etc/passwd", "file"), ("gopher://host/1", "gopher")],
)
def test_other_url_schemes_are_unsupported_not_missing_files(source: str, scheme: str) -> None:
    assert is_url(source)
    assert expand_sources([source]) == [source]
    with pytest.raises(SourceError, match=f"^unsupported scheme {scheme}$"):
        read_source(source, FetchPolicy())


@pytest.mark.parametrize("path", ["C:/papers/page.txt", "C:\\papers\\page.txt", "papers/x.txt"])
def test_paths_are_not_urls(path: str) -> None:
    assert not is_url(path)


@pytest.mark.backends("sqlite")  # no database logic of its own
def test_cli_ingest_of_hostile_paths(
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    fifo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", db_url)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2000)
    monkeypatch.setenv("PAPERBOY_MAX_PAGE_BYTES", "1000")
    args = ["ingest", "/dev/zero", str(fifo), str(big), "ftp://example.com/feed"]
    code = within(30, lambda: cli.main(args))
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert "FAILED     /dev/zero: not a regular file" in lines
    assert "FAILED     pipe: not a regular file" in lines
    assert "FAILED     big.txt: file of 2,000 bytes is over the 1,000-byte cap" in lines
    assert "FAILED     ftp://example.com/feed: unsupported scheme ftp" in lines
    assert "Traceback" not in out + err


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "big", "directory"])
def test_a_hostile_token_file_fails_in_one_line(kind: str, fifo: Path, tmp_path: Path) -> None:
    paths = {
        "/dev/zero": Path("/dev/zero"),
        "fifo": fifo,
        "big": tmp_path / "big",
        "directory": tmp_path,
    }
    (tmp_path / "big").write_text(TOKEN * 1000)
    settings = Settings(bot_token_file=paths[kind])
    outcome = within(10, settings.token)
    assert isinstance(outcome, ConfigError)
    message = str(outcome)
    assert message.startswith("cannot read PAPERBOY_BOT_TOKEN_FILE: ")
    assert "\n" not in message
    assert TOKEN[:8] not in message
    assert TOKEN[-8:] not in message


def test_a_token_file_that_is_not_text_fails_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"\xff\xfe" + TOKEN.encode())
    with pytest.raises(ConfigError, match=r"^PAPERBOY_BOT_TOKEN_FILE is not UTF-8 text$"):
        Settings(bot_token_file=path).token()


def test_a_token_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"{TOKEN}\n")
    assert Settings(bot_token_file=path).token() == TOKEN


@pytest.mark.backends("sqlite")  # no database logic of its own
def test_any_command_survives_a_token_file_of_dev_zero(
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every command reads the token, to keep it out of its logs.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", db_url)
    monkeypatch.setenv("PAPERBOY_BOT_TOKEN_FILE", "/dev/zero")
    assert within(30, lambda: cli.main(["stats", "--json"])) == 0
    assert within(30, lambda: cli.main(["run"])) == 2
    err = capsys.readouterr().err
    assert "paperboy: cannot read PAPERBOY_BOT_TOKEN_FILE: not a regular file" in err.splitlines()
