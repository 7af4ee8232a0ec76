"""Logs are one key=value line per event with the token redacted; metrics are served."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot import cli, metrics, render, service
from bot.config import Settings
from bot.delivery import Result
from bot.devserver import FakeBotApi
from bot.ingest import SourceReport
from bot.logs import KeyValueFormatter, fields, redact_url
from bot.scheduler import make_sender
from storage import queries
from tests.httpserver import free_port
from tests.telegram_helpers import TOKEN


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("bot.test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_log_line_is_key_value_pairs_on_one_line() -> None:
    formatter = KeyValueFormatter([TOKEN])
    line = formatter.format(
        _record(
            "sending to %s failed\nsecond line", "chat 5", **fields(chat=5, url=f"/bot{TOKEN}/x")
        )
    )
    assert "\n" not in line
    assert line.startswith("time=")
    assert " level=WARNING logger=bot.test " in line
    assert 'msg="sending to chat 5 failed\\nsecond line"' in line
    assert " chat=5 " in line
    assert TOKEN not in line
    assert "url=/bot[redacted]/x" in line


def test_a_traceback_stays_on_the_line_and_is_redacted() -> None:
    try:
        raise RuntimeError(f"request to /bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        record = _record("boom")
        record.exc_info = sys.exc_info()
    line = KeyValueFormatter([TOKEN]).format(record)
    assert "\n" not in line
    assert 'error="Traceback' in line
    assert TOKEN not in line


async def test_metrics_count_what_was_sent() -> None:
    port = free_port()
    metrics.serve(port)
    before = metrics.MESSAGES_SENT._value.get()
    with FakeBotApi() as api:
        api.add_user(7, "Seven")
        settings = Settings(
            bot_token=SecretStr(TOKEN), bot_api_url=api.base_url.removesuffix("/bot"), sources=[]
        )
        sender = make_sender(settings)
        api.inject("sendMessage", retry_after=1)
        try:
            assert await sender.send(7, "hello") == (Result.SENT, 7)
        finally:
            await sender.close()
    page = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert f"paperboy_messages_sent_total {before + 1}" in page
    assert "paperboy_telegram_429_total" in page
    assert "paperboy_send_seconds_count" in page
    for name in (
        "paperboy_papers_ingested",
        "paperboy_digest_run_seconds",
        "paperboy_active_subscribers",
    ):
        assert f"# TYPE {name}" in page


SECRET_URL = "https://bob:hunter2@feeds.example/daily?apikey=K3Y&page=2&access_token=T0K"


def test_credentials_in_urls_are_redacted() -> None:
    assert redact_url(SECRET_URL) == (
        "https://***@feeds.example/daily?apikey=***&page=2&access_token=***"
    )
    assert redact_url("https://a@b@host/p?X-Amz-Signature=s&sig=t;api_key=u&keywords=ml#f") == (
        "https://***@host/p?X-Amz-Signature=***&sig=***;api_key=***&keywords=ml#f"
    )
    assert (
        redact_url("https://arxiv.org/list/cs.LG?skip=0") == "https://arxiv.org/list/cs.LG?skip=0"
    )
    line = KeyValueFormatter([TOKEN]).format(
        _record("fetching %s failed", SECRET_URL, **fields(source=SECRET_URL))
    )
    for secret in ("hunter2", "K3Y", "T0K"):
        assert secret not in line
    assert "page=2" in line


def test_source_listings_and_reports_hide_credentials(sessions: sessionmaker[Session]) -> None:
    added = "http://eve:pw1@added.example/feed?token=AT0"
    failing = "https://carol:pw2@failing.example/x?password=PW3"
    with sessions.begin() as session:
        queries.schedule_source(session, added, True)
        queries.record_source_failure(session, failing, "timed out", datetime.now(UTC))
    with sessions.begin() as session:
        shown = [
            *render.sources(
                service.manage_sources(session, "", "", [SECRET_URL], public_only=True)
            ),
            *render.stats(service.stats(session, datetime.now(UTC))),
            *render.ingest_summary([SourceReport(failing, "failed", error="timed out")]),
        ]
    text = "\n".join(shown)
    for secret in ("hunter2", "K3Y", "T0K", "pw1", "AT0", "pw2", "PW3"):
        assert secret not in text
    assert "http://***@added.example/feed?token=***" in text
    assert "https://***@failing.example/x?password=***" in text


def test_metrics_listen_on_this_machine_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[int, str]] = []
    monkeypatch.setattr(
        metrics, "start_http_server", lambda port, addr: started.append((port, addr))
    )
    monkeypatch.delenv("PAPERBOY_METRICS_HOST", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    metrics.serve(9464, settings.metrics_host)
    monkeypatch.setenv("PAPERBOY_METRICS_HOST", "0.0.0.0")
    metrics.serve(9465, Settings(_env_file=None).metrics_host)  # type: ignore[call-arg]
    assert started == [(9464, "127.0.0.1"), (9465, "0.0.0.0")]


def test_ingest_json_shows_no_credential_of_a_source_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`paperboy ingest --json` names each source as the text report does: a token put into a
    URL's user part or query is not printed, not even its bot-id half."""
    token = "7351946028:AAHq9xZkTestTokenValue_abcdefghij"
    url = f"http://u:{token}@127.0.0.1:9/x?apikey={token}"
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'paperboy.db'}")
    monkeypatch.setenv("PAPERBOY_HTTP_RETRIES", "0")
    code = cli.main(["ingest", "--json", url])
    out = capsys.readouterr()
    assert code == 1
    assert json.loads(out.out)["sources"][0]["source"] == "http://***@127.0.0.1:9/x?apikey=***"
    for fragment in (token[i : i + 6] for i in range(len(token) - 5)):
        assert fragment not in out.out + out.err
