"""`paperboy demo`: the scripted conversation, with no token and no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli


def test_demo_plays_the_conversation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERBOY_BOT_TOKEN", raising=False)
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "parsed 6, new 6" in out
    for line in (
        "You: /start",
        "paperboy: Welcome to paperboy!",
        "paperboy: Subscribed to: graph neural networks, prunning, MoE",
        "1. Quantisation-Aware Training for Low-Rank Adapters",
        "matched MoE (title), prunning (title)",
        "Papers sent so far: 2",
    ):
        assert line in out
