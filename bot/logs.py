"""Logging set-up: one line per event, as key=value fields (time, level, logger, msg, and any
`extra={"fields": {...}}` a call adds), with secrets (the bot token, credentials in URLs)
never written out."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import unquote

REDACTED = "[redacted]"
# In URLs, as SQLAlchemy shows a database URL's password.
MASK = "***"

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


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with every secret replaced, and credentials in the URLs it holds (see
    redact_url)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _URL.sub(lambda match: redact_url(match.group()), text)


# A URL inside any text. The scheme is bounded so that a long word is scanned once, not once
# from each of its letters.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,20}://[^\s\"'<>`]+")
# The parts of a URL: scheme://[userinfo@]host... and the query after "?", up to any "#".
# scheme://, then the user name (group 2) if a password follows it.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_PARAMETER = re.compile(r"([?&;])([^=&;#?]*)=([^&;#]*)")
# Query parameter names that carry a credential, as their lower-case letters and digits end.
_SECRET_NAMES = (
    *("key", "token", "secret", "password", "passwd", "pass", "pwd", "auth", "sig"),
    *("signature", "credential", "credentials", "session", "sessionid", "jwt"),
)


def _secret_name(name: str) -> bool:
    letters = "".join(char for char in unquote(name).lower() if char.isalnum())
    return letters.endswith(_SECRET_NAMES) or letters.startswith(("auth", "secret", "token"))


def redact_url(url: str) -> str:
    """A URL fit to show in logs, replies and metrics: its user:password@ (the user part too:
    "id:secret" and a token alone both look like one) and the values of query parameters
    named like credentials (api_key, token, X-Amz-Signature...) replaced by ***.
    The source itself keeps them: they are what reading it needs."""
    url = _USERINFO.sub(_userinfo, url, count=1)
    query_at = url.find("?")
    if query_at < 0:
        return url
    return url[:query_at] + _PARAMETER.sub(_parameter, url[query_at:])


def _parameter(match: re.Match[str]) -> str:
    start, name, value = match.groups()
    return f"{start}{name}={MASK if value and _secret_name(name) else value}"


def _userinfo(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}@"


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
