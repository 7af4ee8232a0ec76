"""Property tests: any input gives papers or a ParseError, never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.records import ParsedPage
from bot.sources import ParseError, parse_page

FURNITURE = [
    "new",
    "Subscribe",
    "Get trending papers in your email inbox!",
    "byAK and the research community",
    "Mar 11",
    "",
]
words = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)
titles = st.lists(words, min_size=1, max_size=12).map(" ".join)
abstracts = st.lists(words, min_size=20, max_size=80).map(" ".join)
lines = st.one_of(st.sampled_from(FURNITURE), titles, abstracts)


def parses_or_refuses(data: bytes) -> ParsedPage | None:
    try:
        page = parse_page(data)
    except ParseError as exc:
        if not str(exc):
            raise AssertionError("a ParseError must say what is wrong") from exc
        return None
    assert page.papers
    assert all(paper.title.strip() for paper in page.papers)
    return page


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    parses_or_refuses(data)


@settings(max_examples=300)
@given(st.lists(lines, max_size=30), st.sampled_from(["\n", "\n\n", "\r\n"]))
def test_page_shaped_text(content: list[str], separator: str) -> None:
    parses_or_refuses(separator.join(content).encode())


VOCABULARY = st.sampled_from(
    [
        *("Graph", "Neural", "Networks", "learning", "sparse", "attention", "low-rank", "(GNNs)"),
        *("Mixture-of-Experts", "diffusion", "ReLU", "3D", "\u00dcber", "na\u00efve", "i-RevNet"),
    ]
)
real_titles = st.lists(VOCABULARY, min_size=1, max_size=10).map(" ".join)
real_abstracts = st.lists(VOCABULARY, min_size=20, max_size=60).map(lambda w: " ".join(w) + ".")


@settings(max_examples=100)
@given(st.lists(st.tuples(real_titles, real_abstracts), min_size=1, max_size=8), st.booleans())
def test_well_formed_pages_parse_completely(entries: list[tuple[str, str]], blocks: bool) -> None:
    separator = "\n\n" if blocks else "\n"
    body = separator.join(f"{title}{separator}{abstract}" for title, abstract in entries)
    page = parse_page(f"Get trending papers in your email inbox!\nSubscribe{body}".encode())
    assert [(p.title, p.abstract) for p in page.papers] == entries
