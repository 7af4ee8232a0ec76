"""HTTP plumbing: a threaded server on 127.0.0.1 that decodes Bot API requests the ways Telegram
accepts them (query string, urlencoded form, JSON body, multipart form) and sends the JSON
envelope the application returns, or the bytes of a file download.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.devserver.errors import ApiError, bad_request
from bot.devserver.methods import UploadedFile

# (URL path, parameters) -> (HTTP status, JSON envelope, or a file's bytes)
Application = Callable[[str, dict[str, object]], tuple[int, dict[str, Any] | bytes]]


class ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True  # long polls and hanging answers must not hold up shutdown
    # Connections waiting to be accepted: socketserver's 5 refuses a bot's burst of
    # concurrent calls (a flood's answers), which Telegram takes.
    request_queue_size = 128

    def __init__(self, application: Application) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.application = application

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def read_params(content_type: str, query: str, body: bytes) -> dict[str, object]:
    """The parameters of a request: its query string, then its body (which wins)."""
    params: dict[str, object] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise bad_request("can't parse JSON body") from None
        if not isinstance(data, dict):
            raise bad_request("the JSON body must be an object")
        params.update(data)
    elif kind == "multipart/form-data":
        params.update(_multipart(content_type, body))
    else:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _multipart(content_type: str, body: bytes) -> dict[str, object]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = message_from_bytes(head + body, policy=policy.HTTP)
    if not isinstance(message, EmailMessage):
        raise bad_request("can't parse multipart body")
    params: dict[str, object] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        filename = part.get_filename()
        if filename is None:
            params[name] = payload.decode("utf-8", "replace")
        else:
            # A part without a Content-Type would be text/plain: go by the name instead.
            mime_type = (
                part.get_content_type()
                if part.get("Content-Type")
                else mimetypes.guess_type(filename)[0] or "application/octet-stream"
            )
            params[name] = UploadedFile(filename, mime_type, payload)
    return params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PTB's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    server: ApiHttpServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        envelope: dict[str, Any] | bytes
        try:
            params = read_params(self.headers.get("Content-Type", ""), url.query, body)
        except ApiError as error:
            status, envelope = error.status, error.envelope()
        else:
            status, envelope = self.server.application(unquote(url.path), params)
        if isinstance(envelope, bytes):
            data, content_type = envelope, "application/octet-stream"
        else:
            data, content_type = json.dumps(envelope).encode("utf-8"), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except ConnectionError:
            self.close_connection = True  # the client gave up: a timeout, a cancelled poll

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass  # silent: the request line carries the bot's token
