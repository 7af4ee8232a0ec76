"""bot.fetch against a real local HTTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from bot.fetch import USER_AGENT, FetchError, FetchPolicy, fetch
from tests.httpserver import (
    LocalServer,
    Reply,
    hang,
    huge,
    redirect,
    retry_after,
    serve,
    unused_url,
)

FAST = FetchPolicy(timeout=5.0, retries=2, backoff=0.01)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serve({}) as running:
        yield running


def test_200_returns_the_body(server: LocalServer) -> None:
    server.routes["/page"] = Reply(body=b"<html>papers</html>")
    assert fetch(server.url("/page"), FAST) == b"<html>papers</html>"
    assert server.count("/page") == 1
    assert server.requests[0].headers["User-Agent"] == USER_AGENT


def test_empty_200_is_not_an_error(server: LocalServer) -> None:
    server.routes["/empty"] = Reply()
    assert fetch(server.url("/empty"), FAST) == b""


def test_redirects_are_followed(server: LocalServer) -> None:
    server.routes["/old"] = redirect("/mid", 301)
    server.routes["/mid"] = redirect(server.url("/new"))
    server.routes["/new"] = Reply(body=b"moved")
    assert fetch(server.url("/old"), FAST) == b"moved"


def test_redirect_loop_fails_without_retry(server: LocalServer) -> None:
    server.routes["/loop"] = redirect("/loop")
    with pytest.raises(FetchError, match="redirect"):
        fetch(server.url("/loop"), FAST)
    assert 1 < server.count("/loop") <= 21


def test_redirect_to_another_scheme_fails(server: LocalServer) -> None:
    server.routes["/away"] = redirect("ftp://example.com/file")
    with pytest.raises(FetchError, match="non-http"):
        fetch(server.url("/away"), FAST)
    assert server.count("/away") == 1


@pytest.mark.parametrize(
    ("status", "reason"), [(404, "Not Found"), (410, "Gone"), (403, "Forbidden")]
)
def test_client_errors_fail_at_once(server: LocalServer, status: int, reason: str) -> None:
    server.routes["/x"] = Reply(status)
    with pytest.raises(FetchError, match=f"HTTP {status} {reason}"):
        fetch(server.url("/x"), FAST)
    assert server.count("/x") == 1


def test_unknown_path_is_404(server: LocalServer) -> None:
    with pytest.raises(FetchError, match="HTTP 404 Not Found"):
        fetch(server.url("/nowhere"), FAST)


def test_persistent_500_fails_after_all_attempts(server: LocalServer) -> None:
    server.routes["/down"] = Reply(500)
    with pytest.raises(FetchError, match="HTTP 500 Internal Server Error after 3 attempts"):
        fetch(server.url("/down"), FAST)
    assert server.count("/down") == FAST.retries + 1


def test_no_retries_means_one_attempt(server: LocalServer) -> None:
    server.routes["/down"] = Reply(503)
    with pytest.raises(FetchError, match=r"after 1 attempt$"):
        fetch(server.url("/down"), FetchPolicy(retries=0))
    assert server.count("/down") == 1


def test_500_then_200_succeeds(server: LocalServer) -> None:
    server.routes["/flaky"] = [Reply(500), Reply(502), Reply(body=b"ok")]
    assert fetch(server.url("/flaky"), FAST) == b"ok"
    assert server.count("/flaky") == 3


def test_429_with_retry_after_0_then_200_succeeds(server: LocalServer) -> None:
    server.routes["/busy"] = [retry_after("0"), Reply(body=b"ok")]
    assert fetch(server.url("/busy"), FAST) == b"ok"
    assert server.count("/busy") == 2


def test_retry_after_as_past_http_date_is_honoured(server: LocalServer) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    server.routes["/busy"] = [retry_after(past, 503), Reply(body=b"ok")]
    assert fetch(server.url("/busy"), FAST) == b"ok"


def test_garbage_retry_after_falls_back_to_backoff(server: LocalServer) -> None:
    server.routes["/busy"] = [retry_after("soon"), Reply(body=b"ok")]
    assert fetch(server.url("/busy"), FAST) == b"ok"


@pytest.mark.parametrize(
    "value",
    ["3600", format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)],
)
def test_long_retry_after_fails_at_once(server: LocalServer, value: str) -> None:
    server.routes["/busy"] = retry_after(value)
    started = time.monotonic()
    with pytest.raises(FetchError, match="HTTP 429 Too Many Requests with Retry-After"):
        fetch(server.url("/busy"), FAST)
    assert server.count("/busy") == 1
    assert time.monotonic() - started < 5


def test_hang_times_out(server: LocalServer) -> None:
    server.routes["/slow"] = hang()
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out .* after 2 attempts"):
        fetch(server.url("/slow"), FetchPolicy(timeout=0.3, retries=1, backoff=0.01))
    assert server.count("/slow") == 2
    assert time.monotonic() - started < 10


def test_body_over_cap_with_content_length_is_refused(server: LocalServer) -> None:
    server.routes["/big"] = huge(50)
    with pytest.raises(FetchError, match="larger than 20 MB cap"):
        fetch(server.url("/big"), FAST)
    assert server.count("/big") == 1


def test_body_over_cap_without_content_length_is_cut_off(server: LocalServer) -> None:
    server.routes["/big"] = huge(50, declare=False)
    with pytest.raises(FetchError, match="larger than 20 MB cap"):
        fetch(server.url("/big"), FAST)
    assert server.count("/big") == 1


def test_short_lying_content_length_truncates_the_body(server: LocalServer) -> None:
    # A lying Content-Length is what the client trusts: it reads that much and stops.
    server.routes["/lie"] = Reply(body=b"x" * 2000, content_length=10)
    assert fetch(server.url("/lie"), FAST) == b"x" * 10


def test_body_exactly_at_cap_is_accepted(server: LocalServer) -> None:
    server.routes["/edge"] = Reply(body=b"x" * 1000, content_length="omit")
    policy = FetchPolicy(max_bytes=1000)
    assert fetch(server.url("/edge"), policy) == b"x" * 1000
    with pytest.raises(FetchError, match="larger than 999 bytes cap"):
        fetch(server.url("/edge"), FetchPolicy(max_bytes=999))


def test_truncated_body_is_retried(server: LocalServer) -> None:
    server.routes["/cut"] = [Reply(body=b"half", content_length=100), Reply(body=b"whole")]
    assert fetch(server.url("/cut"), FAST) == b"whole"
    assert server.count("/cut") == 2


def test_connection_refused_fails_after_retries() -> None:
    with pytest.raises(FetchError, match=r"could not connect .* after 3 attempts"):
        fetch(unused_url(), FAST)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/x", "http://", "http://[::1"]
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="URL"):
        fetch(url, FAST)


def test_a_supplied_client_is_used_and_left_open(server: LocalServer) -> None:
    server.routes["/page"] = Reply(body=b"ok")
    with httpx.Client() as client:
        assert fetch(server.url("/page"), FAST, client) == b"ok"
        assert fetch(server.url("/page"), FAST, client) == b"ok"
        assert not client.is_closed
    assert server.requests[0].headers["User-Agent"] == USER_AGENT
