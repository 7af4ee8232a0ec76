"""Bad input to every command: bad arguments, bad files, bad settings, a database that is
missing, unreachable or not a database. Each is one line on stderr and a non-zero exit code,
never a traceback, and never any fragment of the bot token or the database password."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli, cli_stats, operations
from bot.config import Settings
from bot.devserver import FakeBotApi
from storage import transfer
from tests.httpserver import Reply, free_port, hang, serve, unused_url

TOKEN = "987654321:AAHsecretXq7Zk2Lw9Vb3Nn5Rt8Yp"
PASSWORD = "pw-Hunter2Secret"
PAPERBOY = str(Path(sys.executable).with_name("paperboy"))


def fragments(secret: str, size: int = 6) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


SECRET_FRAGMENTS = fragments(TOKEN) | fragments(PASSWORD)


def assert_one_clean_line(code: object, out: str, err: str) -> str:
    """The error: one line on stderr, a failing exit code, no traceback, no secret."""
    assert code not in (0, None), (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("paperboy"), lines[0]
    assert "Traceback" not in out + err
    leaked = sorted(part for part in SECRET_FRAGMENTS if part in out + err)
    assert not leaked, (leaked, err)
    return lines[0]


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, migrated_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migrated, empty SQLite database, a token, and some bad files in the working folder
    (where no .env can leak in)."""
    for name in list(os.environ):
        if name.startswith("PAPERBOY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    shutil.copy(migrated_template, tmp_path / "paperboy.db")
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'paperboy.db'}")
    monkeypatch.setenv("PAPERBOY_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PAPERBOY_SOURCES", "")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "adir").mkdir()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "notsqlite.db").write_bytes(b"this is not a database\n" * 100)
    with (tmp_path / "huge.dat").open("wb") as huge:
        huge.truncate(200_000_000)  # sparse: big to stat, nothing on disk
    # An export line longer than the limit (lowered here, so the file stays small).
    monkeypatch.setattr(operations, "MAX_IMPORT_LINE", 1_000)
    (tmp_path / "longline.jsonl").write_text("x" * 5_000)


def outcome(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[object, str, str]:
    try:
        code: object = cli.main(list(argv))
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


BAD_COMMANDS: list[tuple[str, ...]] = [
    ("nosuch",),
    ("search", "--limit", "0", "word"),
    ("search", "--offset", "many", "word"),
    ("preview",),
    ("preview", "--chat", "1"),
    ("preview", "--chat", "one"),
    ("digest",),
    ("digest", "--now", "--dry-run", "--chat", "1"),
    ("recommend", "--chat", "x"),
    ("recommend", "--chat", "1", "--limit", "0"),
    ("recommend", "--chat", "1"),
    ("saved", "--chat", "1"),
    ("saved", "--chat", "1", "--format", "pdf"),
    ("library", "import", "--chat", "5", "missing.bib"),
    ("library", "import", "--chat", "5", "adir"),
    ("library", "import", "--chat", "5", "binary.bin"),
    ("library", "import", "--chat", "5", "huge.dat"),
    ("library", "import", "--chat", "5", "empty.txt"),
    ("library",),
    ("export", "nowhere/backup.jsonl"),
    ("export", "adir"),
    ("export",),
    ("import", "missing.jsonl"),
    ("import", "adir"),
    ("import", "binary.bin"),
    ("import", "empty.txt"),
    ("import", "longline.jsonl"),
    ("import", "notsqlite.db"),
    ("db",),
    ("db", "downgrade"),
]


@pytest.mark.parametrize("argv", BAD_COMMANDS, ids=" ".join)
def test_bad_arguments_and_files(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = outcome(capsys, *argv)
    assert_one_clean_line(code, out, err)


def test_no_file_is_left_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def files() -> list[Path]:  # but the database's own (its WAL files come and go)
        return sorted(p for p in tmp_path.rglob("*") if not p.name.startswith("paperboy.db"))

    before = files()
    for argv in (("export", "nowhere/backup.jsonl"), ("export", "adir")):
        assert_one_clean_line(*outcome(capsys, *argv))
    assert files() == before


def test_an_export_cut_short_leaves_no_partial_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object) -> Iterator[str]:
        yield json.dumps({"format": transfer.FORMAT})
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transfer, "export_lines", disk_full)
    line = assert_one_clean_line(*outcome(capsys, "export", "backup.jsonl"))
    assert line == "paperboy: cannot write backup.jsonl: No space left on device"
    assert not (tmp_path / "backup.jsonl").exists()
    assert not (tmp_path / "backup.jsonl.partial").exists()


def test_an_export_replaces_the_old_one_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "backup.jsonl").write_text("an older export\n")
    code, out, _ = outcome(capsys, "export", "backup.jsonl")
    assert (code, out) == (0, "exported 0 rows to backup.jsonl\n")
    assert json.loads((tmp_path / "backup.jsonl").read_text())["format"] == transfer.FORMAT
    assert sorted(p.name for p in tmp_path.glob("backup*")) == ["backup.jsonl"]


def test_an_export_into_a_pipe_leaves_the_pipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Written straight through: renaming a finished file over it would replace the pipe
    (or, as root, a device such as /dev/stdout)."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    code, out, err = outcome(capsys, "export", str(pipe))
    reader.join(timeout=30)
    assert (code, out, err) == (0, "", f"exported 0 rows to {pipe}\n")
    assert json.loads(received[0])["format"] == transfer.FORMAT
    assert pipe.is_fifo()
    assert not (tmp_path / "pipe.partial").exists()


# One invalid value per setting; the test below checks that none is left out.
INVALID = {
    "database_url": f"mysql://paperboy:{PASSWORD}@db.example.org/paperboy",
    "http_timeout": "abc",
    "http_retries": "11",
    "http_backoff": "-1",
    "http_deadline": "0",
    "allow_private_sources": "perhaps",
    "max_page_bytes": "0",
    "log_level": "LOUD",
    "bot_token": TOKEN[:14] + " " + TOKEN[14:],
    "bot_api_url": f"ftp://{TOKEN}.example.org",
    "admin_ids": "alice,bob",
    "ingest_interval": "5",
    "webhook_url": "http://bot.example.org/telegram",
    "webhook_port": "70000",
    "digest_max": "51",
    "recommend_max": "several",
    "rate_limit": "100",
    "paid_broadcasts": "maybe",
    "telegram_timeout": "0",
    "metrics_port": "-1",
    "default_schedule": "fortnightly",
}
# Any text is a value these take: what is wrong shows when it is used (tests below).
FREE_TEXT = {"bot_token_file", "metrics_host", "model_dir", "sources", "webhook_listen"}


def test_every_setting_has_an_invalid_value_here() -> None:
    assert set(INVALID) | FREE_TEXT == set(Settings.model_fields)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_setting_is_named_on_one_line(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = f"PAPERBOY_{name.upper()}"
    monkeypatch.setenv(variable, INVALID[name])
    code, out, err = outcome(capsys, "stats")
    line = assert_one_clean_line(code, out, err)
    assert line.startswith("paperboy: bad configuration: ")
    assert variable in line
    assert code == 2


@pytest.mark.parametrize("name", ["log_level", "default_schedule", "database_url"])
def test_a_token_pasted_into_another_setting_is_not_echoed(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token put in the wrong variable: the error names the variable, never the value
    (assert_one_clean_line looks for every fragment of the token)."""
    monkeypatch.setenv(f"PAPERBOY_{name.upper()}", TOKEN)
    code, out, err = outcome(capsys, "stats")
    assert f"PAPERBOY_{name.upper()}" in assert_one_clean_line(code, out, err)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_an_empty_variable_means_the_default(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"PAPERBOY_{name.upper()}", "")
    value = getattr(Settings(), name)
    # Only PAPERBOY_SOURCES= means what it says: no sources (the README's way to say so).
    expected = [] if name == "sources" else Settings.model_fields[name].default
    assert value == expected
    if name != "database_url":
        code, _, err = outcome(capsys, "stats")
        assert (code, err) == (0, "")


@pytest.mark.parametrize(
    "url",
    [
        "garbage",
        # Its own id: a test's name stays the same from run to run (and across xdist workers).
        pytest.param(
            f"postgresql://paperboy:{PASSWORD}@127.0.0.1:{free_port()}/paperboy",
            id="postgresql-nothing-listening",
        ),
        "sqlite:///notsqlite.db",
        "sqlite:///binary.bin/paperboy.db",  # its folder is a file
        "sqlite:///adir",
    ],
)
def test_a_database_that_cannot_be_used(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", url)
    for argv in (["stats"], ["ingest", "empty.txt"], ["export", "backup.jsonl"]):
        assert_one_clean_line(*outcome(capsys, *argv))
    # The health check reports as it always does: problems, one line each, on stdout.
    code, out, err = outcome(capsys, "health")
    if err:
        assert_one_clean_line(code, out, err)
    else:
        assert code == 1
        assert out.endswith("\nunhealthy\n")
        assert [line for line in out.splitlines() if line.startswith("problem: ")]
        assert not [part for part in SECRET_FRAGMENTS if part in out]


def test_the_database_password_is_never_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    url = f"postgresql://paperboy:{PASSWORD}@127.0.0.1:{port}/paperboy"
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", url)
    line = assert_one_clean_line(*outcome(capsys, "stats"))
    assert f"(postgresql+psycopg://***@127.0.0.1:{port}/paperboy)" in line


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file or directory"),
        ("dir", "is a directory"),
        (b"\xff\xfe\x00", "is not UTF-8 text"),
        (b"\n", "the token is empty"),
        (f"{TOKEN[:14]} {TOKEN[14:]}\n".encode(), "does not look like a bot token"),
    ],
)
def test_a_bad_token_file(
    content: bytes | str | None,
    reason: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "token"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    monkeypatch.delenv("PAPERBOY_BOT_TOKEN")
    monkeypatch.setenv("PAPERBOY_BOT_TOKEN_FILE", str(path))
    line = assert_one_clean_line(*outcome(capsys, "run"))
    assert "PAPERBOY_BOT_TOKEN_FILE" in line
    assert reason in line


def test_an_empty_token_asks_for_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_BOT_TOKEN", "")
    line = assert_one_clean_line(*outcome(capsys, "run"))
    assert line == "paperboy: no bot token: set PAPERBOY_BOT_TOKEN or PAPERBOY_BOT_TOKEN_FILE"


def test_telegram_unreachable_or_refusing_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = unused_url("").rstrip("/")
    monkeypatch.setenv("PAPERBOY_BOT_API_URL", unreachable)
    for argv in (["run"], ["digest", "--now"]):
        line = assert_one_clean_line(*outcome(capsys, *argv))
        assert f"cannot reach the Bot API at {unreachable}" in line
    refused = Reply(401, b'{"ok": false, "error_code": 401, "description": "Unauthorized"}')
    with serve({f"/bot{TOKEN}/getMe": refused}) as server:
        monkeypatch.setenv("PAPERBOY_BOT_API_URL", server.url("").rstrip("/"))
        line = assert_one_clean_line(*outcome(capsys, "run"))
    assert "[redacted]" in line


def test_a_busy_port(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("PAPERBOY_WEBHOOK_URL", "https://bot.example.org/telegram")
        monkeypatch.setenv("PAPERBOY_WEBHOOK_LISTEN", "127.0.0.1")
        monkeypatch.setenv("PAPERBOY_WEBHOOK_PORT", str(port))
        line = assert_one_clean_line(*outcome(capsys, "run"))
    assert line == (
        f"paperboy: cannot listen on 127.0.0.1:{port} (PAPERBOY_WEBHOOK_PORT): "
        "Address already in use"
    )


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe PAPERBOY_LOG_LEVEL=INFO\n", f"PAPERBOY_BOT_TOKEN={TOKEN}\nPAPERBOY_DIGEST_MAX=x\n"],
)
def test_a_bad_env_file(
    content: bytes | str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAPERBOY_BOT_TOKEN")
    env = tmp_path / ".env"
    env.write_bytes(content) if isinstance(content, bytes) else env.write_text(content)
    assert_one_clean_line(*outcome(capsys, "stats"))


def test_stats_names_the_database_and_says_when_it_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = outcome(capsys, "stats")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"database     {tmp_path / 'paperboy.db'}"
    assert out.splitlines()[-1] == cli_stats.EMPTY_STORE
    code, out, _ = outcome(capsys, "stats", "--json")
    assert json.loads(out)["database"] == str(tmp_path / "paperboy.db")


def test_a_command_that_reads_never_makes_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another folder, the default relative path names no file: that is said,
    instead of a new empty database (and its folder) that hides the real one."""
    monkeypatch.delenv("PAPERBOY_DATABASE_URL")
    missing = tmp_path / "data" / "paperboy.db"
    reading = [
        ["stats"],
        ["health"],
        ["search", "x"],
        ["preview", "-k", "x"],
        ["saved", "--chat", "1"],
    ]
    for argv in [*reading, ["export", "out.jsonl"], ["digest", "--now", "--dry-run"]]:
        code, out, err = outcome(capsys, *argv)
        line = assert_one_clean_line(code, out, err)
        assert line.startswith(f"paperboy: no database at {missing} "), line
        assert code == 1
    assert not missing.parent.exists()


def test_the_demo_leaves_the_configured_database_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERBOY_DATABASE_URL")  # the default: data/paperboy.db, here
    code, out, err = outcome(capsys, "demo", str(tmp_path / "missing.txt"))
    assert_one_clean_line(code, out, err)  # with no paper, the script cannot be played
    assert not (tmp_path / "data").exists()


def test_in_a_real_process(tmp_path: Path) -> None:
    """The console script itself: no traceback on the way out either."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
        "PAPERBOY_BOT_TOKEN": TOKEN,
        "PAPERBOY_DATABASE_URL": f"mysql://paperboy:{PASSWORD}@db.example.org/paperboy",
    }
    for argv, extra in (
        (["stats"], {}),
        (["export", "/nowhere/backup.jsonl"], {"PAPERBOY_DATABASE_URL": ""}),
        (["--no-such-option"], {}),
    ):
        done = subprocess.run(
            [PAPERBOY, *argv],
            env={**env, **extra},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert_one_clean_line(done.returncode, done.stdout, done.stderr)
    # The default database (PAPERBOY_DATABASE_URL empty) was not made by the export.
    assert not (tmp_path / "data").exists()


def test_sigterm_during_a_scheduled_ingest(tmp_path: Path) -> None:
    """`paperboy run` stopped (as docker stop does) while a slow source is being read: it
    exits at once and cleanly, without an ERROR or a traceback in its log."""
    with FakeBotApi() as api, serve({"/slow": hang(120)}) as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
            "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
            "PAPERBOY_BOT_TOKEN": TOKEN,
            "PAPERBOY_BOT_API_URL": api.base_url.removesuffix("/bot"),
            "PAPERBOY_SOURCES": server.url("/slow"),
            "PAPERBOY_HTTP_TIMEOUT": "120",
        }
        bot = subprocess.Popen(
            [PAPERBOY, "run"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 90
            while server.count("/slow") == 0:  # the scheduled ingest starts 5 s after start
                assert bot.poll() is None, bot.communicate()[0]
                assert time.monotonic() < deadline, "the scheduled ingest did not start"
                time.sleep(0.1)
            bot.send_signal(signal.SIGTERM)
            # Far less than the source's 120 s: the bot does not wait for the download.
            output, _ = bot.communicate(timeout=60)
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.communicate()
    assert bot.returncode == 0, output
    assert "ingest stopped: paperboy is shutting down" in output
    assert "Traceback" not in output
    assert "level=ERROR" not in output
    assert not [part for part in SECRET_FRAGMENTS if part in output]


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child, before it starts Python: SIGINT at its default, as a terminal's Ctrl-C
    finds it. A child inherits an ignored SIGINT, and a shell ignores it in the jobs it starts
    in the background (`pytest &` in a script): Python then never raises KeyboardInterrupt,
    and the test failed so, waiting out the page's read."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_an_ingest(tmp_path: Path) -> None:
    with serve({"/slow": hang(120)}) as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
            "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
            "PAPERBOY_HTTP_TIMEOUT": "120",
        }
        ingest = subprocess.Popen(
            [PAPERBOY, "ingest", server.url("/slow")],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_ctrl_c_as_in_a_terminal,
        )
        try:
            deadline = time.monotonic() + 60
            while server.count("/slow") == 0:
                assert ingest.poll() is None, ingest.communicate()
                assert time.monotonic() < deadline, "the ingest did not start"
                time.sleep(0.05)
            ingest.send_signal(signal.SIGINT)
            _, err = ingest.communicate(timeout=60)
        finally:
            if ingest.poll() is None:
                ingest.kill()
                ingest.communicate()
    assert ingest.returncode == 130
    assert err == "paperboy: interrupted\n"
