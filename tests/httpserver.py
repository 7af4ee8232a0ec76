"""A real local HTTP server for tests: a route table of canned replies, and a hit counter.

    with serve({"/a": Reply(body=b"hi"), "/b": [Reply(500), Reply(200, b"ok")]}) as server:
        fetch(server.url("/a"), ...)
        assert server.count("/b") == 0

A route is one `Reply` (given every time), a sequence of them (the n-th request gets the
n-th reply, the last one repeats), or a callable building a reply from the `Request`.
Unknown paths answer 404. Each connection is closed after its response (HTTP/1.0).
"""

from __future__ import annotations

import socket
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering; cut short (no answer) at shutdown
    repeat: int = 1  # the body is sent this many times: big bodies without big buffers
    pause: float = 0.0  # seconds between the repeats: a server that drips its answer
    # "actual": the true length; "omit": none, the body ends when the connection closes;
    # an int: a lie.
    content_length: int | Literal["actual", "omit"] = "actual"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # without the query string
    headers: Mapping[str, str]


Route = Reply | Sequence[Reply] | Callable[[Request], Reply]


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, headers={"Location": location})


def retry_after(value: str, status: int = 429) -> Reply:
    """A refusal asking to come back later; `value` is seconds or an HTTP-date."""
    return Reply(status, headers={"Retry-After": value})


def hang(seconds: float = 30.0) -> Reply:
    """Say nothing for `seconds` (longer than any client timeout in the tests)."""
    return Reply(delay=seconds, body=b"too late")


def drip(every: float, chunk: bytes = b"x", times: int = 100_000) -> Reply:
    """A body that never ends in practice: `chunk` every `every` seconds, no Content-Length."""
    return Reply(body=chunk, repeat=times, pause=every, content_length="omit")


def gzip_bomb(megabytes: int, encoding: str = "gzip") -> Reply:
    """`megabytes` MB of zeros, gzip- (or zlib-deflate-) compressed about a thousandfold."""
    packer = zlib.compressobj(9, wbits=zlib.MAX_WBITS | (16 if encoding == "gzip" else 0))
    zeros = bytes(MB)
    body = b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()
    return Reply(body=body, headers={"Content-Encoding": encoding})


def huge(megabytes: int, *, declare: bool = True) -> Reply:
    """A body of `megabytes` MB, with or without a Content-Length saying so."""
    return Reply(body=b"x" * MB, repeat=megabytes, content_length="actual" if declare else "omit")


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: Mapping[str, Route], host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.routes: dict[str, Route] = dict(routes)  # may be changed while serving
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    @property
    def host(self) -> str:
        return str(self.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def count(self, path: str) -> int:
        """How many requests reached `path` so far."""
        with self._lock:
            return sum(1 for request in self.requests if request.path == path)

    def _reply_for(self, request: Request) -> Reply:
        with self._lock:
            seen = sum(1 for r in self.requests if r.path == request.path)
            self.requests.append(request)
            route = self.routes.get(request.path, Reply(404, b"no such route"))
        if isinstance(route, Reply):
            return route
        if callable(route):
            return route(request)
        return route[min(seen, len(route) - 1)]


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def do_POST(self) -> None:
        # The body is read and ignored: routes answer by path alone.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def do_GET(self) -> None:
        request = Request(self.command, urlsplit(self.path).path, dict(self.headers.items()))
        reply = self.server._reply_for(request)
        if reply.delay and self.server.stopping.wait(reply.delay):
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.content_length == "actual":
                self.send_header("Content-Length", str(len(reply.body) * reply.repeat))
            elif reply.content_length != "omit":
                self.send_header("Content-Length", str(reply.content_length))
            self.end_headers()
            for n in range(reply.repeat):
                if n and reply.pause and self.server.stopping.wait(reply.pause):
                    return
                if self.server.stopping.is_set():
                    return
                self.wfile.write(reply.body)
                if reply.pause:
                    self.wfile.flush()
        except ConnectionError:
            pass  # the client gave up (timeout, size cap): expected in these tests

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


@contextmanager
def serve(routes: Mapping[str, Route], host: str = "127.0.0.1") -> Iterator[LocalServer]:
    """Run a LocalServer on an ephemeral port of `host` (any 127.x.y.z works on Linux) for
    the duration of the block."""
    server = LocalServer(routes, host)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()  # wakes hanging handlers
        server.shutdown()
        server.server_close()
        thread.join()


def unused_url(path: str = "/") -> str:
    """A URL on a local port nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
