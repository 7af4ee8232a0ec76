"""The refusals of the Bot API, as the exceptions the stand-in raises and the envelopes it sends."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refused call: answered `{"ok": false, ...}` with `status` as the HTTP status."""

    def __init__(self, status: int, description: str, parameters: dict[str, int] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class ContentError(ApiError):
    """A 400 for what the bot wrote (text, formatting, buttons, commands): the bot's bug."""

    def __init__(self, reason: str):
        super().__init__(400, f"Bad Request: {reason}")


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    return ApiError(403, f"Forbidden: {reason}")
