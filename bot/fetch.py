"""Download a source page over HTTP(S): bounded size, bounded redirects, retries with backoff."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from bot import __version__
from bot.retry import Retry

USER_AGENT = f"paperboy/{__version__} (+https://github.com/paperboy)"
MAX_REDIRECTS = 10


class FetchError(Exception):
    """A page could not be fetched; the message says why, for a human."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    timeout: float = 30.0  # seconds, per connect/read
    retries: int = 3  # extra attempts after the first, for 429/5xx/timeouts/network errors
    backoff: float = 1.0  # base seconds for exponential backoff with jitter
    max_bytes: int = 20_000_000  # size cap; larger bodies are refused
    max_retry_after: float = 60.0  # a Retry-After longer than this is not waited out: fail instead


class _Retryable(Exception):
    """One attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def fetch(url: str, policy: FetchPolicy, client: httpx.Client | None = None) -> bytes:
    """Return the body of `url`, or raise FetchError.

    A caller-supplied `client` only lends its connection pool: the policy's timeout,
    redirect following and our User-Agent apply to every request regardless.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError("not an http(s) URL")
    if client is not None:
        return _fetch_with_retries(client, url, policy)
    with httpx.Client(max_redirects=MAX_REDIRECTS) as own:
        return _fetch_with_retries(own, url, policy)


def _fetch_with_retries(client: httpx.Client, url: str, policy: FetchPolicy) -> bytes:
    retry = Retry(policy.retries, policy.backoff)
    attempt = 0
    while True:
        try:
            return _fetch_once(client, url, policy)
        except _Retryable as exc:
            attempt += 1
            delay = retry.delay(attempt, exc.retry_after)
            if delay is None:
                plural = "s" if attempt > 1 else ""
                raise FetchError(f"{exc.reason} after {attempt} attempt{plural}") from exc
            time.sleep(delay)


def _fetch_once(client: httpx.Client, url: str, policy: FetchPolicy) -> bytes:
    try:
        with client.stream(
            "GET",
            url,
            headers={"User-Agent": USER_AGENT},
            timeout=policy.timeout,
            follow_redirects=True,
        ) as response:
            status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            if response.status_code == 429 or response.is_server_error:
                wait = _retry_after(response)
                if wait is not None and wait > policy.max_retry_after:
                    raise FetchError(
                        f"{status} with Retry-After of {wait:.0f} s, "
                        f"longer than the {policy.max_retry_after:g} s limit"
                    )
                raise _Retryable(status, wait)
            if not response.is_success:
                raise FetchError(status)
            return _read_capped(response, policy.max_bytes)
    except httpx.TimeoutException as exc:
        raise _Retryable(f"timed out ({policy.timeout:g} s limit)") from exc
    except httpx.UnsupportedProtocol as exc:
        # Only reachable through a redirect (the first URL is checked): retrying won't help.
        raise FetchError(f"redirected to a non-http(s) URL: {exc}") from exc
    except httpx.ConnectError as exc:
        raise _Retryable(f"could not connect ({exc})") from exc
    except httpx.TransportError as exc:
        raise _Retryable(f"network error ({exc or type(exc).__name__})") from exc
    except httpx.RequestError as exc:
        # TooManyRedirects, DecodingError: the same request would fail the same way.
        raise FetchError(str(exc) or type(exc).__name__) from exc


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (429/503 only), or None if it does not say."""
    value = response.headers.get("Retry-After", "").strip()
    if not value or response.status_code not in (429, 503):
        return None
    if value.isdecimal():  # delta-seconds (RFC 9110); absurdly long ones become inf
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # garbage: fall back to our own backoff
    if when.tzinfo is None:  # "-0000" zone parses naive; HTTP dates are always UTC
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    too_big = f"page larger than {_size(max_bytes)} cap"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{too_big} (Content-Length: {declared})")
    # Count decoded bytes: a small gzip body can inflate far past the cap.
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(too_big)
        chunks.append(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
