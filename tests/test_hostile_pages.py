"""Hostile pages: every parser takes linear time, stored text is clean, and one bad page
beside good ones is one line of failure, recorded against its source, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli, ingest
from bot.fetch import FetchPolicy
from bot.records import Paper, ParsedPage, usable_url
from bot.sources import ParseError, parse_page
from bot.sources.text import ABSTRACT_LIMIT, MAX_PAPERS, TITLE_LIMIT
from storage import queries
from storage.models import PaperRow, SourceRow

# A twentieth of the default size cap: a linear parser takes well under a second on each
# page, a quadratic one minutes (the old end-of-abstract regex took 56 s on 210 KB).
SIZE = 1_000_000
# CPU seconds one page may take; a parser several times slower than today still passes.
PAGE_SECONDS = 5.0


def _feed(entries: str) -> str:
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'


def _rss(items: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel>{items}</channel></rss>"
    )


def _hydrated(props: str, before: str = "") -> str:
    escaped = props.replace("&", "&amp;").replace('"', "&quot;")
    return f'<html>{before}<div data-target="DailyPapers" data-props="{escaped}"></div>'


_LAUGHS = "".join(
    f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10)
)  # nine levels of ten: a billion "ha"s from a few hundred bytes

HOSTILE: dict[str, dict[str, str]] = {
    "hf-text": {
        "links to the end": "Short title\n" + "https://" * (SIZE // 8) + " end",
        "link-like words": "Short title\n" + "see https://a.b/ " * (SIZE // 16) + "or not",
        "one endless word": "Short title\n" + "q" * SIZE,
        "a date line that never ends": "Short title\nSept" + "t" * SIZE + " 9",
        "glued button": "Subscribe" + "S" * SIZE,
        "too many papers": "".join(
            f"Paper {i}\n{'text ' * 17}end.\n" for i in range(MAX_PAPERS + 10)
        ),
        "blank blocks": "t\n\n \n" * (SIZE // 5),
    },
    "hf-json": {
        "huge title": json.dumps([{"paper": {"title": "T " * (SIZE // 2)}}]),
        "lone surrogates": '[{"paper": {"title": "\\udc00x", "summary": "'
        + "\\ud800" * (SIZE // 6)
        + '"}}]',
        "deep nesting": "[" * SIZE,
        "many authors": json.dumps(
            [{"paper": {"title": "t", "authors": [{"name": "A B"}] * 60_000}}]
        ),
        "one author of and": json.dumps(
            [{"paper": {"title": "t", "authors": [{"name": "x and " * (SIZE // 6)}]}}]
        ),
        "long id": json.dumps([{"paper": {"title": "t", "id": "/a-b." * (SIZE // 4) + "/1"}}]),
        "too many items": json.dumps([{"paper": {"title": "t"}}] * (MAX_PAPERS + 1)),
        "huge upvotes": '[{"paper": {"title": "t", "upvotes": ' + "7" * 4000 + "}}]",
    },
    "hf-html": {
        "deeply nested divs": _hydrated(
            json.dumps([{"paper": {"title": "Deep"}}]), "<div>" * (SIZE // 5)
        ),
        "a tag that never ends": '<html><div data-target="DailyPapers" data-props="'
        + "<div a='" * (SIZE // 8),
        "markers without a tag": "<html>" + 'data-target="DailyPapers" ' * (SIZE // 26),
        "endless attributes": "<html><div " + "a=b " * (SIZE // 4) + 'data-target="x">',
        "distinct attributes": '<html><div data-target="DailyPapers" '
        + "".join(f"a{i}=b " for i in range(SIZE // 10))
        + " data-props='[]'>",
        "too many items": _hydrated(json.dumps([{"paper": {"title": "t"}}] * (MAX_PAPERS + 1))),
    },
    "arxiv-feed": {
        "one creator of ands": _rss(
            "<item><title>t</title><dc:creator>" + "y and " * (SIZE // 6) + "</dc:creator></item>"
        ),
        "one creator of commas": _rss(
            "<item><title>t</title><dc:creator>" + " ,and" * (SIZE // 5) + "</dc:creator></item>"
        ),
        "escaped markup": _feed(
            '<entry><title>t</title><summary type="html">'
            + "&lt;a href=x&gt;&lt;i&gt;" * (SIZE // 30)
            + "</summary></entry>"
        ),
        "comment openers in markup": _rss(
            "<item><title>t</title><description>"
            + "&lt;!--" * (SIZE // 7)
            + "</description></item>"
        ),
        "announcement prefix": _feed(
            "<entry><title>t</title><summary>arXiv:" + "1" * SIZE + "</summary></entry>"
        ),
        "blank lines before the root": "\n" * SIZE + _feed("<entry><title>t</title></entry>"),
        "tags never closed": _feed("<entry><title>t</title>" + "<b x='1'>" * (SIZE // 9)),
        "stray brackets": _feed("<entry><title>t</title>" + "<" * SIZE),
        "too many entries": _feed("<entry><title>t</title></entry>" * (MAX_PAPERS + 1)),
        "prefixed entries": '<?xml version="1.0"?><a:feed xmlns:a="http://www.w3.org/2005/Atom">'
        + "<a:entry><a:title>t</a:title></a:entry>" * (MAX_PAPERS + 1)
        + "</a:feed>",
        "thousands of attributes on one element": _feed(
            "<entry><title>t</title><x "
            + " ".join(f'a{i}="1"' for i in range(SIZE // 10))
            + "/></entry>"
        ),
        "one long word as creator": _rss(
            "<item><title>t</title><dc:creator>" + "c" * (SIZE // 2) + "</dc:creator></item>"
        ),
        "an author of dots and letters": _feed(
            "<entry><title>t</title><author><name>"
            + "c." * (SIZE // 4)
            + "</name></author></entry>"
        ),
        "entity expansion": f'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY l0 "ha">{_LAUGHS}]>'
        + _feed("<entry><title>&l9;</title></entry>").split("?>", 1)[1],
    },
}

_CHILD = """
import json, sys, time
from bot.sources import ParseError, parse_page
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    started = time.process_time()
    try:
        outcome = f"{len(parse_page(data).papers)} papers"
    except ParseError:
        outcome = "refused"
    spent = time.process_time() - started
    print(json.dumps({"page": path, "seconds": spent, "outcome": outcome}), flush=True)
"""


@pytest.mark.parametrize("parser", sorted(HOSTILE))
def test_each_parser_takes_linear_time_on_hostile_pages(parser: str, tmp_path: Path) -> None:
    paths = []
    for index, page in enumerate(HOSTILE[parser].values()):
        path = tmp_path / f"{index}.page"
        path.write_text(page, encoding="utf-8", errors="surrogatepass")
        paths.append(str(path))
    # In a process of its own, so that a parser gone quadratic fails the test rather than
    # holding it for an hour.
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, *paths],
        capture_output=True,
        text=True,
        timeout=60 + PAGE_SECONDS * len(paths),
        check=False,
    )
    assert child.returncode == 0, child.stderr  # nothing but a ParseError escapes
    results = [json.loads(line) for line in child.stdout.splitlines()]
    names = list(HOSTILE[parser])
    assert len(results) == len(names)
    slow = {names[i]: r["seconds"] for i, r in enumerate(results) if r["seconds"] > PAGE_SECONDS}
    assert slow == {}
    too_many = [
        r["outcome"] for name, r in zip(names, results, strict=True) if name.startswith("too many")
    ]
    assert set(too_many) <= {"refused"}


# --- clean text --------------------------------------------------------------------------

UNPRINTABLE = {
    chr(c) for c in (*range(0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000), 0x202E, 0x2066)
}


def _clean(paper: Paper) -> bool:
    texts = [paper.title, paper.abstract, *paper.authors, *paper.keywords, *paper.categories]
    texts += [url for url in (paper.arxiv_id, paper.code_url, paper.project_url) if url]
    return not any(char in UNPRINTABLE for text in texts for char in text)


DIRTY_JSON = json.dumps(
    [
        {
            "paper": {
                "id": "2401.00001",
                "title": "Nul\u0000 bell\u0007 \u001b[2Jclear \ud800 \u202eevil\u202c",
                "summary": "Abstract\u0085with \u009bC1 \udfff and \u2066isolates\u2069.",
                "authors": [{"name": "Ann\u0000 Lee"}, {"name": "\u001b[31mBob"}],
                "ai_keywords": ["key\u0007word", "\ud800"],
                "projectPage": "javascript:alert(1)",
                "githubRepo": "tg://resolve?domain=x",
            }
        }
    ]
)


def test_json_fields_lose_control_characters_surrogates_and_unsafe_links() -> None:
    (paper,) = parse_page(DIRTY_JSON.encode()).papers
    assert _clean(paper)
    assert paper.title == "Nul bell [2Jclear evil"
    assert paper.abstract == "Abstract with C1 and isolates."
    assert paper.authors == ("Ann Lee", "[31mBob")
    assert paper.keywords == ("keyword",)
    assert (paper.code_url, paper.project_url) == (None, None)


def test_feed_and_html_fields_are_clean_too() -> None:
    feed = _feed(
        "<entry><id>http://arxiv.org/abs/2401.00002v1</id>"
        "<title>C1&#x85;&#x9b;and bidi&#x202e; title</title>"
        "<summary>See javascript:alert(1) and https://code.example/x&#x202e;y</summary>"
        "<author><name>Eve&#x2067; Doe</name></author>"
        '<category term="cs.LG&#x9c;"/></entry>'
    )
    (from_feed,) = parse_page(feed.encode()).papers
    assert _clean(from_feed)
    # feedparser reads C1 references as the Windows-1252 characters HTML takes them for.
    assert from_feed.title == "C1\u2026\u203aand bidi title"
    assert from_feed.project_url == "https://code.example/xy"
    (from_html,) = parse_page(_hydrated(DIRTY_JSON).encode()).papers
    assert from_html == parse_page(DIRTY_JSON.encode()).papers[0]


def test_feed_markup_becomes_plain_text() -> None:
    rss = _rss(
        "<item><title>T &amp;amp; U &lt;b&gt;B&lt;/b&gt;</title><description>A &amp;amp; B, "
        "x &amp;lt; y, &lt;p&gt;one&lt;/p&gt;&lt;p&gt;two&lt;/p&gt; f&lt;sub&gt;2&lt;/sub&gt;"
        "</description></item>"
    )
    (paper,) = parse_page(rss.encode()).papers
    assert (paper.title, paper.abstract) == ("T & U B", "A & B, x < y, one two f2")


@pytest.mark.parametrize(
    ("url", "usable"),
    [
        ("https://example.org/a?b=c", True),
        ("http://\u4f8b\u3048.jp/\u00fc", True),
        ("javascript:alert(1)", False),
        ("tg://resolve?domain=x", False),
        ("HTTPS://example.org", False),
        ("https://example.org/\u009b31m", False),  # C1 control
        ("https://example.org/\u202egnp.exe", False),  # bidi override
        ("https://example.org/\ud800", False),
        ("https://example.org/a b", False),
        ("https://example.org/" + "a" * 500, False),
    ],
)
def test_only_printable_web_links_are_usable(url: str, usable: bool) -> None:
    assert (usable_url(url) == url) is usable
    assert (usable_url(url) is None) is not usable


def test_fields_are_bounded() -> None:
    page = json.dumps([{"paper": {"title": "word " * 5000, "summary": "long " * 50_000}}])
    (paper,) = parse_page(page.encode()).papers
    assert len(paper.title) <= TITLE_LIMIT
    assert len(paper.abstract) <= ABSTRACT_LIMIT
    assert paper.abstract.endswith("long")


def test_a_title_of_nothing_printable_is_refused() -> None:
    with pytest.raises(ParseError, match="no printable text"):
        parse_page(("\u202e\u0085\n" + "words " * 30 + "end.").encode())


# --- one bad page beside good ones --------------------------------------------------------

BAD_PAGES = {
    "surrogate.json": '[{"paper": {"title": "\\udbff", "summary": "x"}}]',
    "nul.json": '[{"paper": {"title": "Null\\u0000 byte paper", "summary": "\\u001b[2J"}}]',
    "quadratic.txt": "A title\n" + "http://" * 40_000 + " x",
    "deep.json": "[" * 100_000,
    "many.json": json.dumps([{"paper": {"title": f"p{i}"}} for i in range(MAX_PAPERS + 1)]),
    "binary.bin": "\x00\x01\x02binary",
    "nested.html": _hydrated('[{"paper": {"title": "Nested"}}]', "<div>" * 100_000),
    # A date line longer than the column of the page's date hint (PostgreSQL refuses it).
    "long-date.txt": f"Marc{'h' * 40} 11\nA title\n{'An abstract. ' * 8}",
}


def test_hostile_pages_beside_good_ones_cost_one_line_each(
    capsys: pytest.CaptureFixture[str],
    seed_pages: list[Path],
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", db_url)
    bad = []
    for name, page in BAD_PAGES.items():
        (tmp_path / name).write_text(page, encoding="utf-8", errors="surrogatepass")
        bad.append(name)
    good = [str(seed_pages[0]), str(seed_pages[1])]
    sources = [bad[0], good[0], *bad[1:], good[1]]

    started = time.process_time()
    code = cli.main(["ingest", *sources])
    spent = time.process_time() - started
    out, err = capsys.readouterr()

    assert code == 1  # some failed
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert len(lines) == len(sources) + 1  # one line each, then the total
    for name in bad:
        (line,) = [line for line in lines if name in line]
        assert line.startswith(("FAILED     ", "ingested   ")), line
    assert sum(line.startswith("ingested   ") for line in lines) == 2 + 2  # nul, nested
    assert spent < 60  # CPU seconds; the quadratic page alone used to take minutes
    with engine.connect() as connection:
        stored = connection.scalars(select(PaperRow.title)).all()
        failing = connection.scalars(
            select(SourceRow.location).where(SourceRow.consecutive_failures == 1)
        ).all()
    assert {"Null byte paper", "Nested"} <= set(stored)
    assert not any(char in UNPRINTABLE for title in stored for char in title)
    assert {Path(location).name for location in failing} == set(bad) - {"nul.json", "nested.html"}


def _policy() -> FetchPolicy:
    return FetchPolicy(timeout=1, retries=0, backoff=0, max_bytes=1_000_000)


def test_any_exception_is_the_failure_of_its_source_alone(
    sessions: sessionmaker[Session], seed_pages: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = str(seed_pages[1])

    def broken(data: bytes) -> ParsedPage:
        if data == seed_pages[1].read_bytes():
            raise RuntimeError("a bug\nwith a second line")
        return parse_page(data)

    monkeypatch.setattr(ingest, "parse_page", broken)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    reports = ingest.ingest_all(sessions, [bad, str(seed_pages[0])], _policy(), now=now)
    assert [r.status for r in reports] == ["failed", "ingested"]
    assert reports[0].error == "unexpected error: RuntimeError: a bug with a second line"
    with sessions() as session:
        # Recorded, so that the scheduler backs off from it like from any failing source.
        assert queries.failures_since(session, [bad])[bad][0] == 1


def test_a_source_the_database_cannot_hold_fails_without_raising(
    sessions: sessionmaker[Session], seed_pages: list[Path]
) -> None:
    # A file name that is not UTF-8: Python holds its bytes as lone surrogates.
    name = str(seed_pages[0].parent / "se\udcffed.txt")
    report = ingest.ingest_source(sessions, name, _policy())
    assert (report.status, report.error) == (
        "failed",
        "the file name is not UTF-8: rename the file",
    )
    report = ingest.ingest_source(sessions, "page\x00.txt", _policy())
    assert report.error == "not a file name (holds a NUL character)"


def test_a_stray_control_character_is_dropped_not_the_page(seed_pages: list[Path]) -> None:
    """A good page with an ESC sequence and a BEL pasted into one abstract keeps its papers;
    the characters are gone from what is stored."""
    page = seed_pages[0].read_text(encoding="utf-8")
    lines = page.splitlines()
    longest = max(range(len(lines)), key=lambda i: len(lines[i]))
    lines[longest] += " \x1b[2J\x07\x00"
    spoiled = parse_page("\n".join(lines).encode())
    assert len(spoiled.papers) == len(parse_page(page.encode()).papers) > 10
    for paper in spoiled.papers:
        assert not any(ch in paper.abstract + paper.title for ch in "\x1b\x07\x00")


def test_a_large_collaborations_author_list_is_a_feed() -> None:
    """Thousands of names in one dc:creator (as arXiv lists big collaborations) are no attack:
    the author-field bound counts runs of e-mail characters, which names keep short."""
    creators = ", ".join(f"Author{i} Lastname{i}" for i in range(3000))
    page = _rss(f"<item><title>A measurement</title><dc:creator>{creators}</dc:creator></item>")
    (paper,) = parse_page(page.encode()).papers
    assert len(paper.authors) == 3000
