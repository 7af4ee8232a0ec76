"""bot.fetch against a real local HTTP server."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from bot.fetch import USER_AGENT, FetchError, FetchPolicy, fetch
from tests.httpserver import (
    MB,
    LocalServer,
    Reply,
    drip,
    gzip_bomb,
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
    ids=["seconds", "http-date"],  # the same names in every run (and every xdist worker)
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


@pytest.mark.parametrize("url", ["example.com/x", "http://", "http://[::1"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="URL"):
        fetch(url, FAST)


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("ftp://example.com/x", "ftp"), ("file:///etc/passwd", "file"), ("gopher://h/", "gopher")],
)
def test_other_schemes_are_refused_by_name(url: str, scheme: str) -> None:
    with pytest.raises(FetchError, match=f"^unsupported scheme {scheme}$"):
        fetch(url, FAST)


def test_a_supplied_client_is_used_and_left_open(server: LocalServer) -> None:
    server.routes["/page"] = Reply(body=b"ok")
    with httpx.Client() as client:
        assert fetch(server.url("/page"), FAST, client) == b"ok"
        assert fetch(server.url("/page"), FAST, client) == b"ok"
        assert not client.is_closed
    assert server.requests[0].headers["User-Agent"] == USER_AGENT


def _peak_memory(work: Callable[[], object]) -> int:
    """Peak bytes Python allocated while `work` ran (it may raise FetchError)."""
    tracemalloc.start()
    try:
        work()
    except FetchError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_dripping_server_is_cut_off_at_the_deadline(server: LocalServer) -> None:
    # One byte well within the per-read timeout, forever: only the deadline ends it.
    server.routes["/drip"] = drip(0.1)
    policy = FetchPolicy(timeout=2.0, retries=3, backoff=0.01, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"^gave up after 1 s, the time limit for one page$"):
        fetch(server.url("/drip"), policy)
    assert time.monotonic() - started < 8
    assert server.count("/drip") == 1  # running out of time is not retried


def test_the_deadline_defaults_to_four_timeouts() -> None:
    assert FetchPolicy(timeout=3).time_limit == 12
    assert FetchPolicy(timeout=3, deadline=5).time_limit == 5


def test_the_deadline_covers_retries(server: LocalServer) -> None:
    server.routes["/slow"] = hang()
    policy = FetchPolicy(timeout=0.3, retries=10, backoff=0.01, deadline=1.0)
    with pytest.raises(FetchError, match="gave up after 1 s"):
        fetch(server.url("/slow"), policy)
    assert server.count("/slow") < 11


def test_gzip_bodies_are_decoded(server: LocalServer) -> None:
    server.routes["/gz"] = Reply(
        body=gzip.compress(b"papers"), headers={"Content-Encoding": "gzip"}
    )
    assert fetch(server.url("/gz"), FAST) == b"papers"
    assert server.requests[0].headers["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS])
def test_deflate_bodies_are_decoded_wrapped_or_raw(server: LocalServer, wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    body = packer.compress(b"papers" * 100) + packer.flush()
    server.routes["/z"] = Reply(body=body, headers={"Content-Encoding": "deflate"})
    assert fetch(server.url("/z"), FAST) == b"papers" * 100


def test_a_gzip_bomb_stops_at_the_cap_in_bounded_memory(server: LocalServer) -> None:
    server.routes["/bomb"] = gzip_bomb(200)
    policy = FetchPolicy(max_bytes=2 * MB, retries=0)

    def work() -> None:
        with pytest.raises(FetchError, match="larger than 2 MB cap"):
            fetch(server.url("/bomb"), policy)

    # Inflating one 64 kB read whole would take some 64 MB.
    assert _peak_memory(work) < 12 * MB


def test_a_deflate_bomb_stops_at_the_cap(server: LocalServer) -> None:
    server.routes["/bomb"] = gzip_bomb(50, "deflate")
    with pytest.raises(FetchError, match="larger than 1 MB cap"):
        fetch(server.url("/bomb"), FetchPolicy(max_bytes=MB))


def test_a_corrupt_gzip_body_fails_in_one_line(server: LocalServer) -> None:
    server.routes["/bad"] = Reply(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match=r"^gzip body is corrupt$"):
        fetch(server.url("/bad"), FAST)
    assert server.count("/bad") == 1


def test_an_unasked_content_encoding_is_refused(server: LocalServer) -> None:
    server.routes["/br"] = Reply(body=b"\x0b\x02\x80papers\x03", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match=r"^unsupported content encoding br$"):
        fetch(server.url("/br"), FAST)


def test_a_redirect_body_is_not_read(server: LocalServer) -> None:
    server.routes["/old"] = Reply(
        302, b"x" * MB, {"Location": "/new"}, repeat=100, content_length="omit"
    )
    server.routes["/new"] = Reply(body=b"moved")
    # httpx's own redirect following reads the whole 100 MB body of the 302.
    assert _peak_memory(lambda: fetch(server.url("/old"), FAST)) < 12 * MB
    assert fetch(server.url("/old"), FAST) == b"moved"


def test_a_retry_after_past_the_deadline_is_not_waited_out(server: LocalServer) -> None:
    server.routes["/busy"] = retry_after("30")
    started = time.monotonic()
    with pytest.raises(FetchError, match="Retry-After of 30 s, past the 5 s time limit"):
        fetch(server.url("/busy"), FetchPolicy(deadline=5))
    assert server.count("/busy") == 1
    assert time.monotonic() - started < 5
