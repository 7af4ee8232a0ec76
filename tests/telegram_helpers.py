"""Helpers for tests that run the real python-telegram-bot stack against bot.devserver."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO

TOKEN = "123:ABC"
SPEC = REPO.parent / "shared" / "telegram" / "bot-api-10.1.json"


def bot_api_spec() -> Path:
    """The official Bot API description; skips the test without it (fails under CI=true)."""
    if not SPEC.is_file():
        reason = (
            f"Bot API description not found at {SPEC} (it comes from ../shared beside the repo)"
        )
        # CI always has ../shared: a missing description there is a failure, never a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return SPEC
