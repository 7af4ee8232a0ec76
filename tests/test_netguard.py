"""bot.netguard: URLs added from chat reach only public addresses, redirects included."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot import netguard
from bot.fetch import FetchError, FetchPolicy, fetch
from tests.httpserver import LocalServer, Reply, redirect, serve

FAST = FetchPolicy(timeout=5.0, retries=2, backoff=0.01)
PUBLIC_LOOPBACK = "127.0.0.1"  # what the tests below pretend is a public internet address


def untrusted(url: str) -> FetchPolicy:
    return FetchPolicy(timeout=5.0, retries=2, backoff=0.01, untrusted=frozenset({url}))


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("localhost", "loopback"),
        ("LocalHost", "loopback"),
        ("printer.localhost", "loopback"),
        ("localhost.", "loopback"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-public"),
        ("2130706433", "non-standard"),
        ("0x7f.1", "non-standard"),
        ("017700000001", "non-standard"),
        ("127.1", "non-standard"),
        ("0x08080808", "non-standard"),  # 8.8.8.8, but spelled to slip past filters
        ("example.com.", "dot"),
    ],
)
def test_hosts_that_are_not_public_by_spelling(host: str, reason: str) -> None:
    with pytest.raises(netguard.Refused, match=reason):
        netguard.check_host(host)


@pytest.mark.parametrize("host", ["example.com", "8.8.8.8", "2606:4700:4700::1111", "arxiv.org"])
def test_public_hosts_pass(host: str) -> None:
    netguard.check_host(host)


Resolver = Callable[..., Any]


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A DNS of our own: names in the dict resolve to its addresses, a name "nx.test"
    does not resolve, and everything else goes to the real resolver."""
    table: dict[str, list[str]] = {}
    real: Resolver = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host == "nx.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host in table:
            table.setdefault(f"resolved {host}", []).append("")
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def test_every_address_of_a_name_is_checked(names: dict[str, list[str]]) -> None:
    names["mixed.test"] = ["93.184.215.14", "10.0.0.1"]
    with pytest.raises(netguard.Refused, match=r"mixed.test resolves to 10.0.0.1, a private"):
        netguard.public_addresses("mixed.test", 80)
    names["fine.test"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert netguard.public_addresses("fine.test", 80) == names["fine.test"]


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://2130706433/feed",
        "https://0x7f.1/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://inside.test/feed",
    ],
)
def test_url_refusal_names_the_problem(names: dict[str, list[str]], url: str) -> None:
    names["inside.test"] = ["192.168.0.10"]
    refusal = netguard.url_refusal(url)
    assert refusal is not None
    assert "address" in refusal or "numeric host in a non-standard form" in refusal
    assert "\n" not in refusal


def test_url_refusal_lets_unresolvable_names_through(names: dict[str, list[str]]) -> None:
    # Checked again on every fetch; refusing it now would only be a guess.
    assert netguard.url_refusal("https://nx.test/feed") is None
    assert netguard.url_refusal("https://8.8.8.8/feed") is None


@pytest.fixture
def public_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 counts as public, so a local server can stand for a public one;
    127.0.0.2 and the rest of loopback stay refused."""
    real = netguard._kind
    monkeypatch.setattr(
        netguard, "_kind", lambda ip: None if str(ip) == PUBLIC_LOOPBACK else real(ip)
    )


@pytest.fixture
def internal() -> Iterator[LocalServer]:
    """A server on another loopback address: the internal service an admin must not reach."""
    with serve({"/secret": Reply(body=b"internal")}, host="127.0.0.2") as server:
        yield server


def test_an_untrusted_url_to_loopback_is_refused_before_connecting(
    internal: LocalServer,
) -> None:
    url = internal.url("/secret")
    with pytest.raises(FetchError, match=r"^127.0.0.2 is a loopback address \(set "):
        fetch(url, untrusted(url))
    assert internal.count("/secret") == 0
    assert fetch(url, FAST) == b"internal"  # the same URL, trusted


@pytest.mark.usefixtures("public_loopback")
def test_a_redirect_to_an_internal_address_is_refused(internal: LocalServer) -> None:
    with serve({}) as public:
        public.routes["/to-ip"] = redirect(internal.url("/secret"))
        public.routes["/to-localhost"] = redirect(f"http://localhost:{internal.port}/secret")
        public.routes["/to-mapped"] = redirect(f"http://[::ffff:127.0.0.2]:{internal.port}/secret")
        public.routes["/to-number"] = redirect(f"http://2130706434:{internal.port}/secret")
        public.routes["/page"] = Reply(body=b"public")
        assert fetch(public.url("/page"), untrusted(public.url("/page"))) == b"public"
        for path in ("/to-ip", "/to-localhost", "/to-mapped", "/to-number"):
            url = public.url(path)
            with pytest.raises(FetchError, match=r"address|numeric host"):
                fetch(url, untrusted(url))
            assert public.count(path) == 1  # refused, not retried
    assert internal.count("/secret") == 0


@pytest.mark.usefixtures("public_loopback")
def test_a_name_is_resolved_once_and_the_checked_address_used(
    names: dict[str, list[str]],
) -> None:
    with serve({"/page": Reply(body=b"public")}) as public:
        names["papers.test"] = [PUBLIC_LOOPBACK]
        url = f"http://papers.test:{public.port}/page"
        assert fetch(url, untrusted(url)) == b"public"
        # One look-up, whose checked answer is where the connection went: a second
        # look-up (DNS rebinding) has no say.
        assert len(names["resolved papers.test"]) == 1
        assert public.requests[0].headers["Host"] == f"papers.test:{public.port}"
        names["rebound.test"] = ["127.0.0.2"]
        rebound = f"http://rebound.test:{public.port}/page"
        with pytest.raises(FetchError, match=r"rebound.test resolves to 127.0.0.2, a loopback"):
            fetch(rebound, untrusted(rebound))


def test_an_unresolvable_untrusted_name_fails_in_one_line(names: dict[str, list[str]]) -> None:
    url = "http://nx.test/feed"
    with pytest.raises(FetchError, match=r"could not connect \(cannot resolve nx.test.*attempt"):
        fetch(url, untrusted(url))
