"""Logging set-up: one line per event, as key=value fields (time, level, logger, msg, and any
`extra={"fields": {...}}` a call adds), with secrets (the bot token) never written out."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/+@")


def _value(value: object) -> str:
    text = str(value)
    if text and all(char in _PLAIN for char in text):
        return text
    # Quoted with JSON's escapes: a traceback or a multi-line message stays on one line.
    return json.dumps(text, ensure_ascii=False)


def fields(**values: object) -> dict[str, Mapping[str, object]]:
    """Key=value fields for a log call: log.info("sent", extra=fields(chat=1, papers=3))."""
    return {"fields": values}


class KeyValueFormatter(logging.Formatter):
    """Formats a record as key=value fields and replaces every secret in the finished line,
    tracebacks included: httpx and PTB put request URLs, which carry the token, into their
    messages and exceptions."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, object] = {
            "time": moment.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        text = " ".join(f"{key}={_value(value)}" for key, value in line.items())
        return redact(text, self.secrets)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def configure(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; Alembic narrates each migration step; APScheduler
    # each run of each job (the jobs log what they did themselves).
    for noisy in ("httpx", "httpcore", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
