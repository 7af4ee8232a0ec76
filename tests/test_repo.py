"""The repository keeps its promises: CI runs the README's test command."""

from __future__ import annotations

import re

from tests.conftest import REPO

TEST_COMMAND = "ruff check . && mypy && pytest"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(rf"^{re.escape(TEST_COMMAND)}$", readme, re.MULTILINE)
    assert re.search(rf"^{re.escape(TEST_COMMAND)}$", ci, re.MULTILINE)
    assert "set -euo pipefail" in ci


def test_readme_documents_every_setting() -> None:
    from bot.config import Settings

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`PAPERBOY_{name.upper()}`" in readme, name


def test_env_example_explains_every_setting() -> None:
    from bot.config import Settings

    example = (REPO / ".env.example").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert re.search(rf"^#? ?PAPERBOY_{name.upper()}=", example, re.MULTILINE), name
