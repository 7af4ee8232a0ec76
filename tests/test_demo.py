"""`paperboy demo`: the scripted conversation, with no token and no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli, demo

SAMPLE = Path(cli.__file__).parent / "data" / "sample_page.txt"


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
        # /help, a refused keyword, an unknown command, a button press and its effect.
        "You: /help",
        "    /digest — send your digest now",
        "paperboy: Subscribed to: graph neural networks, prunning, MoE",
        "    “the” was not added: too common a word to pick papers.",
        "    Try /latest now, or /digest for your first digest; /time sets when it comes.",
        "You: /subscibe LoRA\npaperboy: I don't know /subscibe. Did you mean /subscribe?",
        "paperboy: 1 paper matches:",
        "1. Quantisation-Aware Training for Low-Rank Adapters",
        "matched MoE (title), prunning (title)",
        "You tap [1 👍]\npaperboy (notice): 👍 Noted — you'll see more like this\n"
        "paperboy (updates the buttons):\n    [1 👍✓] [1 👎] [1 🔖] [1 ≈]",
        "Papers sent so far: 2",
    ):
        assert line in out


def _page(path: Path, papers: int) -> Path:
    """An hf-text page like the sample, with `papers` long papers on pruning."""
    head = SAMPLE.read_text(encoding="utf-8").split("Sparse Graph Neural Networks")[0]
    body = "".join(
        f"Pruning Study Number {n}: "
        + "What Is Left of a Network Once It Is Pruned, " * 4
        + "\n\n"
        + f"We prune network {n} and measure what is left of it. " * 8
        + "\n\n"
        for n in range(papers)
    )
    path.write_text(head + body, encoding="utf-8")
    return path


async def test_each_step_waits_for_every_message_of_the_last(tmp_path: Path) -> None:
    """A digest of several messages, paced a second apart, is all in before the next
    command is sent: the transcript is in the order things happened."""
    page = _page(tmp_path / "page.txt", 12)
    reports, transcript = await demo.play(
        [str(page)], ["/subscribe pruning", "/digest", "[2 more]", "/settings"]
    )
    assert [r.new for r in reports] == [12]
    lines = transcript.splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("paperboy: ")]
    digest = [n for n in starts if lines[n].startswith("paperboy: 📬 10 of 12 new papers")]
    assert digest, transcript
    # The digest's second message (its papers numbered from 1 again) comes before the tap.
    second = next(n for n in starts if n > digest[0])
    assert lines[second].startswith("paperboy: 1. Pruning Study Number"), transcript
    assert second < lines.index("You tap [2 more]") < lines.index("You: /settings")
    assert "    Papers sent so far: 12" in lines
    assert lines[-1] == "    Papers sent so far: 12"
