"""Saved papers as BibTeX and RIS: what is written, and that it reads back the same."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
import rispy
from bibtexparser.entrypoint import parse_string
from bibtexparser.middlewares import LatexDecodingMiddleware
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.citations import bibtex, citation_keys, ris
from bot.library import read_library
from bot.records import Paper

ATTENTION = Paper(
    title="Attention Is All You Need",
    abstract="The dominant sequence transduction models are based on recurrent networks.",
    arxiv_id="1706.03762",
    authors=("Ashish Vaswani", "Noam Shazeer", "Niki Parmar"),
    published=date(2017, 6, 12),
    categories=("cs.CL", "cs.LG"),
)
OLD = Paper(title="Anti de Sitter Space and Holography", arxiv_id="hep-th/9802150")
PROJECT = Paper(title="A Paper Without an Id", project_url="https://example.org/paper")
BARE = Paper(title="Scaling: 50% & More?", authors=("Jared Kaplan",))
SPECIAL = Paper(
    title="{BERT} & $k$-NN_x: 50% of #1 ~ ^ \\alpha -- ``q'' Über naïve",
    abstract="Costs 100% & $5 \\ more {braces}",
    arxiv_id="2401.01234",
    authors=("Jörg Müller", "Google and DeepMind", "Smith, John", "Ludwig van Beethoven"),
)
PAPERS = [ATTENTION, OLD, PROJECT, BARE, SPECIAL]


def test_bibtex_entry() -> None:
    assert bibtex([ATTENTION]) == (
        "@misc{vaswani2017attention,\n"
        "  title = {{Attention Is All You Need}},\n"
        "  author = {Ashish Vaswani and Noam Shazeer and Niki Parmar},\n"
        "  year = {2017},\n"
        "  eprint = {1706.03762},\n"
        "  archivePrefix = {arXiv},\n"
        "  primaryClass = {cs.CL},\n"
        "  doi = {10.48550/arXiv.1706.03762},\n"
        "  url = {https://arxiv.org/abs/1706.03762},\n"
        "  abstract = {The dominant sequence transduction models are based on recurrent"
        " networks.}\n"
        "}\n"
    )


def test_a_url_always() -> None:
    text = bibtex([OLD, PROJECT, BARE])

    assert "url = {https://arxiv.org/abs/hep-th/9802150}" in text
    assert "url = {https://example.org/paper}" in text
    assert (
        "url = {https://arxiv.org/search/?query=Scaling%3A+50%25+%26+More%3F&searchtype=title}"
        in text
    )
    assert text.count("url = ") == 3


def test_arxiv_fields_only_with_an_id() -> None:
    old, project = bibtex([OLD, PROJECT]).split("\n\n")

    assert "year = {1998}" in old  # from the old-style id
    assert "archivePrefix = {arXiv}" in old
    assert "primaryClass" not in old  # no category known
    for field in ("eprint", "archivePrefix", "primaryClass", "doi", "year", "author"):
        assert f"{field} =" not in project


def test_citation_keys_are_unique_and_stable() -> None:
    twin = Paper(
        title="Attention Is All You Need", authors=("Ashish Vaswani",), arxiv_id="1706.99999"
    )
    keys = citation_keys([ATTENTION, OLD, twin, PROJECT, twin])

    assert keys == [
        "vaswani2017attentiona",
        "anon1998anti",
        "vaswani2017attentionb",
        "anonpaper",
        "vaswani2017attentionc",
    ]
    assert len(set(keys)) == len(keys)
    assert citation_keys([ATTENTION, OLD, twin, PROJECT, twin]) == keys
    assert citation_keys([BARE, SPECIAL]) == ["kaplanscaling", "muller2024bert"]


def test_a_lettered_key_never_takes_another_papers_key() -> None:
    plain = Paper(title="Attentiona", authors=("A Vaswani",), published=date(2017, 1, 1))
    keys = citation_keys([ATTENTION, ATTENTION, plain])
    assert keys == ["vaswani2017attentionb", "vaswani2017attentionc", "vaswani2017attentiona"]


def test_bibtex_escapes_latex_specials() -> None:
    text = bibtex([SPECIAL])

    assert "\\{BERT\\} \\& \\$k\\$-NN\\_x: 50\\% of \\#1" in text
    assert "\\textasciitilde{} \\textasciicircum{} \\textbackslash{}alpha -{}- `{}`q'{}'" in text
    assert "{Google and DeepMind} and {Smith, John}" in text


def decoded(value: str) -> str:
    return " ".join(value.split())


def test_bibtex_reads_back_through_bibtexparser() -> None:
    library = parse_string(bibtex(PAPERS), append_middleware=[LatexDecodingMiddleware()])

    assert not library.failed_blocks
    assert [entry.key for entry in library.entries] == citation_keys(PAPERS)
    titles = [decoded(entry["title"]) for entry in library.entries]
    assert titles[:4] == [paper.title for paper in PAPERS[:4]]
    assert library.entries[4]["eprint"] == "2401.01234"


def test_bibtex_reads_back_through_read_library() -> None:
    library = read_library(bibtex(PAPERS).encode(), "saved.bib")

    assert library.skipped == ()
    assert [entry.title for entry in library.entries] == [paper.title for paper in PAPERS]
    assert [entry.arxiv_id for entry in library.entries] == [paper.arxiv_id for paper in PAPERS]
    assert [entry.authors for entry in library.entries] == [paper.authors for paper in PAPERS]
    assert library.entries[4].abstract == SPECIAL.abstract


def test_ris_record() -> None:
    assert ris([ATTENTION]).split("\r\n") == [
        "TY  - GEN",
        "TI  - Attention Is All You Need",
        "AU  - Vaswani, Ashish",
        "AU  - Shazeer, Noam",
        "AU  - Parmar, Niki",
        "PY  - 2017",
        "DA  - 2017/06/12/",
        "AB  - The dominant sequence transduction models are based on recurrent networks.",
        "UR  - https://arxiv.org/abs/1706.03762",
        "DO  - 10.48550/arXiv.1706.03762",
        "N1  - arXiv:1706.03762",
        "ER  - ",
        "",
        "",
    ]


def test_ris_reads_back_through_rispy() -> None:
    records = rispy.loads(ris(PAPERS))

    assert [record["title"] for record in records] == [paper.title for paper in PAPERS]
    assert records[0]["authors"] == ["Vaswani, Ashish", "Shazeer, Noam", "Parmar, Niki"]
    assert records[0]["doi"] == "10.48550/arXiv.1706.03762"
    assert records[0]["urls"] == ["https://arxiv.org/abs/1706.03762"]
    assert "doi" not in records[2]
    assert records[2]["urls"] == ["https://example.org/paper"]


def test_ris_reads_back_through_read_library() -> None:
    library = read_library(ris(PAPERS).encode(), "saved.ris")

    assert [entry.title for entry in library.entries] == [paper.title for paper in PAPERS]
    assert [entry.arxiv_id for entry in library.entries] == [paper.arxiv_id for paper in PAPERS]
    assert library.entries[0].authors == ATTENTION.authors
    assert library.entries[0].year == 2017


def test_no_papers() -> None:
    assert bibtex([]) == ""
    assert ris([]) == ""


_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=80).filter(
    lambda text: text.split()
)


def normal(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


@settings(max_examples=300, deadline=None)
@given(titles=st.lists(_TEXT, min_size=1, max_size=5), abstract=_TEXT)
def test_any_title_reads_back(titles: list[str], abstract: str) -> None:
    papers = [
        Paper(title=title, abstract=abstract, arxiv_id=f"2401.{i:05d}")
        for i, title in enumerate(titles)
    ]
    for text, name in ((bibtex(papers), "a.bib"), (ris(papers), "a.ris")):
        library = read_library(text.encode(), name)
        assert [normal(entry.title) for entry in library.entries] == [
            normal(" ".join(title.split())) for title in titles
        ]
        assert [entry.arxiv_id for entry in library.entries] == [p.arxiv_id for p in papers]
    assert len(set(citation_keys(papers))) == len(papers)


@pytest.mark.parametrize("paper", PAPERS)
def test_each_paper_alone_reads_back(paper: Paper) -> None:
    (entry,) = read_library(bibtex([paper]).encode(), "one.bib").entries
    assert (entry.title, entry.arxiv_id) == (paper.title, paper.arxiv_id)
