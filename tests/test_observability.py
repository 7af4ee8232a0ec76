"""Logs are one key=value line per event with the token redacted; metrics are served."""

from __future__ import annotations

import logging
import sys

import httpx
from pydantic import SecretStr

from bot import metrics
from bot.config import Settings
from bot.delivery import Result
from bot.devserver import FakeBotApi
from bot.logs import KeyValueFormatter, fields
from bot.scheduler import make_sender
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
