"""The structured sources: Hugging Face JSON and HTML, and arXiv API / listing feeds."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.records import Paper, ParsedPage
from bot.sources import ParseError, arxiv_feed, hf_html, hf_json, parse_page

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def listing_page(props: str) -> str:
    """A minimal HF listing page whose DailyPapers div carries `props` (raw JSON text)."""
    escaped = html.escape(props, quote=True)
    return f'<!doctype html><html><body><div data-target="DailyPapers" data-props="{escaped}">'


def atom_feed(*entries: str) -> str:
    return (
        f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">{"".join(entries)}</feed>'
    )


# Hugging Face


def test_json_and_html_listing_give_the_same_papers() -> None:
    from_json = hf_json.parse(fixture("hf_daily_papers.json"))
    from_html = hf_html.parse(fixture("hf_papers.html"))
    assert from_json.format == "hf-json"
    assert from_html.format == "hf-html"
    assert len(from_json.papers) == 4
    assert from_html.papers == from_json.papers


def test_hf_item_with_repo_project_page_and_keywords() -> None:
    paper = hf_json.parse(fixture("hf_daily_papers.json")).papers[0]
    assert paper == Paper(
        title="MLGym: A New Framework and Benchmark for Advancing AI Research Agents",
        abstract=(
            "We introduce MLGym and MLGym-Bench, a new framework and benchmark for evaluating "
            "and developing LLM agents on AI research tasks. This is the first Gym environment "
            "for machine learning (ML) tasks, enabling research on reinforcement learning (RL) "
            "algorithms for training such agents."
        ),
        arxiv_id="2502.14499",
        authors=("Deepak Nathani", "Lovish Madaan", "Nicholas Roberts"),
        published=date(2025, 2, 20),
        featured_on=date(2025, 2, 21),
        upvotes=138,
        code_url="https://github.com/facebookresearch/MLGym",
        project_url="https://mlgym.github.io",
        keywords=("LLM agents", "Gym environment", "reinforcement learning"),
    )


def test_hf_item_without_links_uses_item_level_featured_date() -> None:
    paper = hf_json.parse(fixture("hf_daily_papers.json")).papers[1]
    assert paper.arxiv_id == "2502.13923"
    assert paper.featured_on == date(2025, 2, 20)
    assert paper.upvotes == 12
    assert (paper.code_url, paper.project_url, paper.keywords) == (None, None, ())


def test_hf_item_links_come_from_the_summary() -> None:
    paper = hf_json.parse(fixture("hf_daily_papers.json")).papers[2]
    assert paper.title == (
        "SigLIP 2: Multilingual Vision-Language Encoders with Improved Semantic Understanding"
    )
    assert paper.code_url == "https://github.com/example/big_vision"
    assert paper.project_url == "https://siglip2.example.org/demo"
    assert paper.authors == ("Michael Tschannen", "Alexey Gritsenko", "Xiao Wang")


def test_hf_item_falls_back_to_item_title_and_published_date() -> None:
    paper = hf_json.parse(fixture("hf_daily_papers.json")).papers[3]
    assert paper.title == "How Much Knowledge Can You Pack into a LoRA Adapter?"
    assert paper.featured_on == date(2025, 2, 20)
    assert paper.upvotes == 0
    assert (paper.abstract, paper.authors) == ("", ())


def test_hf_listing_date_hint_and_bare_item_list() -> None:
    assert hf_html.parse(fixture("hf_papers.html")).date_hint == "2025-02-21"
    items = fixture("hf_daily_papers.json")
    bare = hf_html.parse(listing_page(items))
    assert bare.papers == hf_json.parse(items).papers
    assert bare.date_hint is None


def test_hf_single_paper_page() -> None:
    page = hf_html.parse(fixture("hf_paper.html"))
    listed = hf_json.parse(fixture("hf_daily_papers.json")).papers[0]
    assert page.papers == (listed,)


def test_non_arxiv_hf_id_has_no_arxiv_id() -> None:
    page = hf_json.parse('[{"paper": {"id": "not-an-arxiv-id", "title": "T"}}]')
    assert page.papers == (Paper(title="T"),)


# arXiv


def test_arxiv_api_entries() -> None:
    stitchable, old_style, with_code = arxiv_feed.parse(fixture("arxiv_api.xml")).papers
    assert stitchable.title == "Stitchable Neural Networks"
    assert stitchable.arxiv_id == "2302.06586"
    assert stitchable.authors == ("Zizheng Pan", "Jianfei Cai", "Bohan Zhuang")
    assert stitchable.published == date(2023, 2, 13)
    assert stitchable.categories == ("cs.CV", "cs.AI", "cs.LG")
    assert stitchable.abstract.startswith("The public model zoo containing enormous")
    assert stitchable.project_url == "https://snnet.github.io/"  # from arxiv:comment
    assert old_style.arxiv_id == "hep-th/9901001"
    assert old_style.title == "Boundary States and Open String Moduli on Orbifolds"
    assert old_style.authors == ("Anna Bergström", "Kenji Watanabe")
    assert old_style.published == date(1999, 1, 1)
    assert with_code.code_url == "https://github.com/example-lab/rad-lfqa"
    assert with_code.categories == ("cs.CL", "cs.IR")


def test_arxiv_rss_listing() -> None:
    new, cross, replaced = arxiv_feed.parse(fixture("arxiv_listing.rss")).papers
    assert new.arxiv_id == "2411.01234"
    assert new.abstract.startswith("We measure the gradient noise scale")
    assert new.authors == ("Hannah Müller", "Rahul Gupta", "Wei Zhang")
    assert new.categories == ("cs.LG", "stat.ML")
    assert new.published == date(2024, 11, 4)
    assert new.code_url == "https://github.com/example/gns-diffusion"
    assert cross.abstract.startswith("Tabular foundation models")
    assert cross.authors == ("Olivia Chen", "Marco Rossi")
    assert cross.categories == ("cs.LG", "cs.DB")
    assert cross.project_url == "https://tabshift.example.org"
    assert replaced.arxiv_id == "2406.05678"
    assert replaced.authors == ("Sam Okafor", "Jia Li", "Daniel Kim")


def test_arxiv_atom_listing() -> None:
    first, second = arxiv_feed.parse(fixture("arxiv_listing.atom")).papers
    assert first == arxiv_feed.parse(fixture("arxiv_listing.rss")).papers[0]
    assert second.arxiv_id == "2410.20001"
    assert second.abstract.startswith("We prune a small language model")
    assert second.authors == ("Aiko Tanaka", "Ben Foster")
    assert second.categories == ("cs.CL", "cs.LG")


# Detection


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("hf_daily_papers.json", "hf-json"),
        ("hf_papers.html", "hf-html"),
        ("hf_paper.html", "hf-html"),
        ("arxiv_api.xml", "arxiv-feed"),
        ("arxiv_listing.rss", "arxiv-feed"),
        ("arxiv_listing.atom", "arxiv-feed"),
    ],
)
def test_parse_page_detects_the_format(name: str, fmt: str) -> None:
    assert parse_page((FIXTURES / name).read_bytes()).format == fmt


@pytest.mark.parametrize(
    "text",
    [
        '<!doctype html><html><body><feedback-form></feedback-form><div data-target="x">',
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed"></head>',
    ],
)
def test_html_mentioning_feeds_is_not_a_feed(text: str) -> None:
    assert not arxiv_feed.sniff(text)
    assert hf_html.sniff(text)


def test_feeds_and_json_objects_are_not_claimed() -> None:
    assert not hf_html.sniff(fixture("arxiv_listing.rss"))
    assert not hf_html.sniff(fixture("arxiv_api.xml"))
    assert not hf_json.sniff('{"a": 1}')


# Errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"paper": ', "invalid JSON: Expecting value at line 1 column 12"),
        ("[" * 100_000, "invalid JSON: nested too deeply"),
        ('{"a": 1}', "expected an array of daily-paper items, found object"),
        ("[1, 2]", "item 0: expected object, found integer"),
        ('[{"paper": null}]', "item 0: paper: expected object, found null"),
        ('[{"paper": {"title": " "}}]', "item 0: paper has no title"),
        (
            '[{"paper": {"title": "T", "upvotes": "9"}}]',
            "item 0: paper.upvotes: expected integer, found string",
        ),
        (
            '[{"paper": {"title": "T", "upvotes": true}}]',
            "item 0: paper.upvotes: expected integer, found boolean",
        ),
        (
            '[{"paper": {"title": "T", "authors": [{"name": 3}]}}]',
            "item 0: paper.authors[0].name: expected string, found integer",
        ),
        (
            '[{"paper": {"title": "T", "ai_keywords": [1]}}]',
            "item 0: paper.ai_keywords: expected an array of strings",
        ),
        (
            '[{"paper": {"title": "T", "publishedAt": "soon"}}]',
            "item 0: paper.publishedAt: not an ISO date: 'soon'",
        ),
    ],
)
def test_hf_json_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match="^" + re.escape(message)):
        hf_json.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<!doctype html><html><body><div>No papers today</div></body></html>",
            "HTML page without Hugging Face paper data",
        ),
        (listing_page('[{"paper": '), "DailyPapers data-props: invalid JSON: Expecting value"),
        (listing_page('{"papers": []}'), "DailyPapers data-props: object without a dailyPapers"),
        (listing_page('{"dailyPapers": [3]}'), "DailyPapers data-props: item 0: expected object"),
        ('<div data-target="DailyPapers"></div>', "DailyPapers data-props: attribute missing"),
        (
            '<div data-target="PaperContent" data-props="{&quot;paper&quot;: []}">',
            "PaperContent data-props: paper: expected object, found array",
        ),
    ],
)
def test_hf_html_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match="^" + re.escape(message)):
        hf_html.parse(text)


API_ERROR_FEED = atom_feed(
    "<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>"
    "<title>Error</title><summary>incorrect id format for 1234.12345</summary>"
    "<author><name>arXiv api core</name></author></entry>"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (atom_feed("<title>ArXiv Query: nothing</title>"), "feed holds no entries"),
        (API_ERROR_FEED, "arXiv API error: incorrect id format for 1234.12345"),
        (fixture("arxiv_api.xml")[:2500], "malformed feed XML: "),
        (atom_feed("<entry><title> </title><id>x</id></entry>"), "entry 0 has no title"),
    ],
)
def test_arxiv_feed_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match="^" + re.escape(message)):
        arxiv_feed.parse(text)


@pytest.mark.parametrize("published", ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "soon"])
def test_arxiv_unreadable_dates_are_unknown(published: str) -> None:
    entry = f"<entry><title>T</title><published>{published}</published></entry>"
    assert arxiv_feed.parse(atom_feed(entry)).papers[0].published is None


def test_parse_page_reports_feed_errors() -> None:
    with pytest.raises(ParseError, match="arXiv API error"):
        parse_page(API_ERROR_FEED.encode())


# Arbitrary input raises ParseError and nothing else.


def parses_or_rejects(parse: Callable[[str], ParsedPage], text: str) -> None:
    try:
        page = parse(text)
    except ParseError:
        return
    assert all(paper.title for paper in page.papers)


FIELD_NAMES = (
    *("paper", "title", "summary", "id", "authors", "name", "publishedAt", "upvotes"),
    *("submittedOnDailyAt", "githubRepo", "projectPage", "ai_keywords", "dailyPapers", "date"),
)
PLAUSIBLE_STRINGS = st.sampled_from(
    ["2502.14499", "2025-02-20T12:28:23.000Z", "2025-13-40", "https://github.com/a/b", ""]
)
EXTREME_DATES = st.sampled_from(
    ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "Mon, 31 Feb 2024 00:00:00 GMT"]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | PLAUSIBLE_STRINGS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
examples = settings(max_examples=200, deadline=None)


@examples
@given(st.text())
def test_hf_json_arbitrary_text(text: str) -> None:
    parses_or_rejects(hf_json.parse, text)


@examples
@given(json_values)
def test_hf_json_arbitrary_json(value: object) -> None:
    parses_or_rejects(hf_json.parse, json.dumps(value))
    parses_or_rejects(hf_json.parse, json.dumps([{"paper": value}, value]))


@examples
@given(st.text())
def test_hf_html_arbitrary_text(text: str) -> None:
    parses_or_rejects(hf_html.parse, text)


@examples
@given(st.sampled_from(["DailyPapers", "PaperContent"]), json_values, st.text(max_size=10))
def test_hf_html_arbitrary_props(target: str, props: object, noise: str) -> None:
    for raw in (json.dumps(props), json.dumps({"paper": props}), noise):
        escaped = html.escape(raw, quote=True)
        text = f'<html><div data-target="{target}" data-props="{escaped}">{noise}</div>'
        parses_or_rejects(hf_html.parse, text)


@examples
@given(st.text())
def test_arxiv_feed_arbitrary_text(text: str) -> None:
    parses_or_rejects(arxiv_feed.parse, text)
    parses_or_rejects(arxiv_feed.parse, f"<rss><channel><item>{text}</item></channel></rss>")


entry_fields = st.fixed_dictionaries(
    {
        "id": st.text(max_size=30) | st.just("http://arxiv.org/abs/2401.01234v2"),
        "title": st.text(max_size=30),
        "summary": st.text(max_size=60) | st.just("arXiv:1 Announce Type: new \nAbstract: x"),
        "creator": st.text(max_size=30) | st.just("A, B, and C"),
        "published": st.text(max_size=30) | PLAUSIBLE_STRINGS | EXTREME_DATES,
        "term": st.text(max_size=10),
    }
)


def atom_entry(fields: dict[str, str]) -> str:
    elements = "".join(
        f"<{tag}>{escape(fields[key])}</{tag}>"
        for tag, key in (
            ("id", "id"),
            ("title", "title"),
            ("summary", "summary"),
            ("dc:creator", "creator"),
            ("published", "published"),
        )
    )
    return (
        f"<entry xmlns:dc='http://purl.org/dc/elements/1.1/'>{elements}"
        f"<category term={quoteattr(fields['term'])}/></entry>"
    )


@examples
@given(st.lists(entry_fields, max_size=3))
def test_arxiv_feed_arbitrary_entries(entries: list[dict[str, str]]) -> None:
    parses_or_rejects(arxiv_feed.parse, atom_feed(*map(atom_entry, entries)))
