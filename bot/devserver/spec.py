"""The official Bot API description (methods and their parameters), to check every call against.

Reads the machine-readable scrape of core.telegram.org/bots/api shaped like
../shared/telegram/bot-api-10.1.json: {"methods": {name: {"fields": [{"name", "required"}]}}}.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class MethodSpec:
    name: str
    fields: frozenset[str]
    required: tuple[str, ...]

    def problem(self, params: Collection[str]) -> str | None:
        """Why a call with these parameters is invalid, or None."""
        for name in params:
            if name not in self.fields:
                return f"unknown parameter {name}"
        for name in self.required:
            if name not in params:
                return f"parameter {name} is required"
        return None


class ApiSpec:
    def __init__(self, methods: Iterable[MethodSpec]) -> None:
        # Telegram matches method names case-insensitively.
        self._methods = {method.name.lower(): method for method in methods}

    @classmethod
    def load(cls, path: Path) -> ApiSpec:
        methods = json.loads(path.read_text(encoding="utf-8"))["methods"]
        return cls(
            MethodSpec(
                name=name,
                fields=frozenset(field["name"] for field in method.get("fields", [])),
                required=tuple(f["name"] for f in method.get("fields", []) if f["required"]),
            )
            for name, method in methods.items()
        )

    def method(self, name: str) -> MethodSpec | None:
        return self._methods.get(name.lower())
