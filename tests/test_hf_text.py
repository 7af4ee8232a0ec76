"""The text digest pages: both seed layouts, furniture, date hints and malformed pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sources import ParseError, parse_page
from bot.sources.hf_text import parse

BLOCKS = """new

Get trending papers in your email inbox!

Subscribe

byAK and the research community

Mar 11

Spiking Graph Convolutional Networks

Graph Convolutional Networks (GCNs) achieve an impressive performance due to the remarkable
representation ability in learning the graph information. Code: https://github.com/ZulunZhu/SpikingGCN.

Simplifying Graph Convolutional Networks

Graph Convolutional Networks (GCNs) and their variants have experienced significant attention
and have become the de facto methods for learning graph representations.
See https://example.org/sgc for more.
"""

LINES = (
    "Get trending papers in your email inbox once a day!\n"
    "Get trending papers in your email inbox!\n"
    "SubscribeStitchable Neural Networks\n"
    "The public model zoo containing enormous powerful pretrained model families has reached "
    "an unprecedented scope than ever, which significantly contributes to the success of deep "
    "learning.\n"
    "Reversible Column Networks\n"
    "We propose a new neural network design paradigm Reversible Column Network (RevCol). The main "
    "body of RevCol is composed of multiple copies of subnetworks.\n"
)


def test_seed_pages_hold_603_entries(seed_pages: list[Path]) -> None:
    pages = [parse_page(path.read_bytes()) for path in seed_pages]
    assert [p.format for p in pages] == ["hf-text"] * 5
    assert sum(len(p.papers) for p in pages) == 603
    for page in pages:
        assert all(paper.title and len(paper.abstract) > 80 for paper in page.papers)
        titles = {paper.title for paper in page.papers}
        assert not titles & {"new", "Subscribe", "byAK and the research community"}
        assert not any(t.startswith(("Subscribe", "Get trending")) for t in titles)


def test_seed_date_hints(seed_pages: list[Path]) -> None:
    hints = [parse_page(path.read_bytes()).date_hint for path in seed_pages]
    assert hints == ["Mar 11", "Mar 11", None, "Mar 13", None]


def test_blank_line_layout() -> None:
    page = parse(BLOCKS)
    assert page.date_hint == "Mar 11"
    assert [p.title for p in page.papers] == [
        "Spiking Graph Convolutional Networks",
        "Simplifying Graph Convolutional Networks",
    ]
    first, second = page.papers
    # Abstract lines are joined with single spaces; links found in the text are kept.
    assert "\n" not in first.abstract
    assert first.code_url == "https://github.com/ZulunZhu/SpikingGCN"
    assert first.project_url is None
    assert second.project_url == "https://example.org/sgc"
    assert first.arxiv_id is None


def test_line_per_field_layout_with_glued_subscribe() -> None:
    page = parse_page(LINES.encode())
    assert [p.title for p in page.papers] == [
        "Stitchable Neural Networks",
        "Reversible Column Networks",
    ]
    assert page.date_hint is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (LINES + "A Title Without Its Abstract\n", "truncated page"),
        (LINES[: LINES.rindex("composed of") + 5], "truncated page"),
        ("Get trending papers in your email inbox!\nSubscribe\n", "no papers"),
        ("Short Title\nAnother short line\nThird line\nFourth\n", "unknown format"),
    ],
)
def test_malformed_text_pages(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_page(text.encode())


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "Reversible Column Networks",
            "Subscriber Churn Prediction",
            "Subscriber Churn Prediction",
        ),
        (
            "Stitchable Neural Networks",
            "Subscriber Churn Prediction",
            "Subscriber Churn Prediction",
        ),
        ("Stitchable Neural Networks", "i-RevNet: Deep Invertible Networks", "i-RevNet: Deep ..."),
    ],
)
def test_only_the_glued_button_is_removed(old: str, new: str, expected: str) -> None:
    titles = [p.title for p in parse_page(LINES.replace(old, new).encode()).papers]
    assert expected.removesuffix("...") in " | ".join(titles)
    assert not any(t.startswith(("Subscribe ", "r Churn", "Revnet")) for t in titles)


def test_title_too_long_is_rejected() -> None:
    text = LINES.replace("Reversible Column Networks", "x" * 400)
    with pytest.raises(ParseError, match="expected a paper title"):
        parse_page(text.encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty page"),
        (b"   \n\n  ", "empty page"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8|binary"),
        (bytes(range(256)), "not UTF-8|binary"),
        (b"title\x00\x01\x02 and more", "binary"),
    ],
)
def test_empty_and_binary_input(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_page(data)
