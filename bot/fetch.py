"""Read a source page: over HTTP(S) with bounded size, time and redirects and retries with
backoff, or from a local file with bounded size."""

from __future__ import annotations

import os
import stat
import time
import zlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from bot import __version__, netguard
from bot.retry import Retry

USER_AGENT = f"paperboy/{__version__} (+https://github.com/paperboy)"
MAX_REDIRECTS = 10
# Only what _read_capped can inflate in bounded steps (httpx would add br and zstd when
# their packages are installed, and inflate those unbounded).
ACCEPT_ENCODING = "gzip, deflate"
_STEP = 1 << 20  # bytes inflated at a time


class FetchError(Exception):
    """A page could not be read; the message says why, for a human."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    timeout: float = 30.0  # seconds, per connect/read
    retries: int = 3  # extra attempts after the first, for 429/5xx/timeouts/network errors
    backoff: float = 1.0  # base seconds for exponential backoff with jitter
    max_bytes: int = 20_000_000  # size cap on the decoded body; larger bodies are refused
    max_retry_after: float = 60.0  # a Retry-After longer than this is not waited out: fail instead
    # Seconds for a whole fetch, redirects, retries and their waits included (a server
    # dripping one byte per `timeout` is cut off here); None means 4 x timeout.
    deadline: float | None = None
    # URLs added from chat: they, and wherever they redirect, may reach only public addresses.
    untrusted: frozenset[str] = field(default_factory=frozenset)

    @property
    def time_limit(self) -> float:
        return self.deadline if self.deadline is not None else 4 * self.timeout


@dataclass(frozen=True, slots=True)
class _Deadline:
    limit: float
    ends_at: float  # time.monotonic()

    @classmethod
    def start(cls, policy: FetchPolicy) -> _Deadline:
        return cls(policy.time_limit, time.monotonic() + policy.time_limit)

    def left(self) -> float:
        """Seconds left; raise FetchError once there are none."""
        left = self.ends_at - time.monotonic()
        if left <= 0:
            raise FetchError(f"gave up after {self.limit:g} s, the time limit for one page")
        return left


# The running fetch()'s deadline: every attempt the retry loop makes shares it.
_deadline: ContextVar[_Deadline | None] = ContextVar("fetch_deadline", default=None)


class _Retryable(Exception):
    """One attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def fetch(url: str, policy: FetchPolicy, client: httpx.Client | None = None) -> bytes:
    """Return the body of `url`, or raise FetchError.

    A caller-supplied `client` only lends its connection pool: the policy's timeout,
    redirect following and our User-Agent apply to every request regardless. An untrusted
    URL (see FetchPolicy) always gets a client of its own that connects to public addresses only.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"unsupported scheme {parsed.scheme}" if parsed.scheme else "not a URL")
    if not parsed.host:
        raise FetchError("invalid URL: no host")
    token = _deadline.set(_Deadline.start(policy))
    try:
        if url in policy.untrusted:
            # trust_env=False: a proxy would resolve names itself, past the guard.
            transport = netguard.PublicOnlyTransport()
            with httpx.Client(transport=transport, trust_env=False) as guarded:
                return _fetch_with_retries(guarded, url, policy)
        if client is not None:
            return _fetch_with_retries(client, url, policy)
        with httpx.Client() as own:
            return _fetch_with_retries(own, url, policy)
    finally:
        _deadline.reset(token)


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
    deadline = _deadline.get() or _Deadline.start(policy)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING}
    request = client.build_request("GET", url, headers=headers)
    try:
        # Redirects are followed here, not by httpx: it would read each redirect's body
        # whole, past the size cap and the deadline.
        for _ in range(MAX_REDIRECTS + 1):
            timeout = min(policy.timeout, deadline.left())
            request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                if response.next_request is None:
                    return _answer(response, policy, deadline)
                request = response.next_request
            finally:
                response.close()
            if request.url.scheme not in ("http", "https"):
                raise FetchError(f"redirected to a non-http(s) URL: {request.url}")
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")
    except netguard.Refused as exc:
        raise FetchError(str(exc)) from None
    except httpx.TimeoutException as exc:
        raise _Retryable(f"timed out ({policy.timeout:g} s limit)") from exc
    except httpx.ConnectError as exc:
        raise _Retryable(f"could not connect ({exc})") from exc
    except httpx.TransportError as exc:
        raise _Retryable(f"network error ({exc or type(exc).__name__})") from exc
    except httpx.RequestError as exc:
        # The same request would fail the same way.
        raise FetchError(str(exc) or type(exc).__name__) from exc


def _answer(response: httpx.Response, policy: FetchPolicy, deadline: _Deadline) -> bytes:
    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if response.status_code == 429 or response.is_server_error:
        wait = _retry_after(response)
        if wait is not None and wait > policy.max_retry_after:
            raise FetchError(
                f"{status} with Retry-After of {wait:.0f} s, "
                f"longer than the {policy.max_retry_after:g} s limit"
            )
        if wait is not None and wait >= deadline.ends_at - time.monotonic():
            raise FetchError(
                f"{status} with Retry-After of {wait:.0f} s, "
                f"past the {deadline.limit:g} s time limit for one page"
            )
        raise _Retryable(status, wait)
    if not response.is_success:
        raise FetchError(status)
    return _read_capped(response, policy.max_bytes, deadline)


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


def _read_capped(response: httpx.Response, max_bytes: int, deadline: _Deadline) -> bytes:
    too_big = f"page larger than {_size(max_bytes)} cap"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{too_big} (Content-Length: {declared})")
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    inflater: zlib._Decompress | None = None
    chunks: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw():
            deadline.left()
            if encoding not in ("", "identity") and inflater is None:
                inflater = _inflater(encoding, raw)
            pending = raw
            while pending:
                if inflater is None:
                    chunk, pending = pending, b""
                else:
                    # Count decoded bytes, and inflate no more than the cap allows at a
                    # time: a small gzip body can inflate a thousandfold.
                    chunk = inflater.decompress(pending, min(max_bytes - size + 1, _STEP))
                    pending = inflater.unconsumed_tail
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(too_big)
                chunks.append(chunk)
    except zlib.error:
        raise FetchError(f"{encoding} body is corrupt") from None
    return b"".join(chunks)


def _inflater(encoding: str, start: bytes) -> zlib._Decompress:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        # zlib-wrapped as the RFC says, or the raw deflate some servers send.
        wrapped = len(start) > 1 and start[0] & 0x0F == 8 and (start[0] << 8 | start[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    raise FetchError(f"unsupported content encoding {encoding}")


def read_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes`; else raise FetchError.

    The file is opened without blocking and checked before it is read: a FIFO, a device
    such as /dev/zero or a directory is refused rather than waited on or read forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise FetchError("is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise FetchError("not a regular file")
            with os.fdopen(fd, "rb", closefd=False) as file:
                data = file.read(max_bytes + 1)  # no more: the file may grow while read
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise FetchError("no such file or directory") from None
    except OSError as exc:
        raise FetchError(exc.strerror or str(exc)) from None
    if len(data) > max_bytes:
        size = max(info.st_size, len(data))
        raise FetchError(f"file of {size:,} bytes is over the {max_bytes:,}-byte cap")
    return data


def _size(n: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
