"""Reading a reader's BibTeX or RIS library: ids wherever exporters put them, and no crash."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.library import (
    MAX_BYTES,
    MAX_ENTRIES,
    LibraryError,
    ReadLibrary,
    Skipped,
    latex_to_text,
    read_library,
)
from storage.identity import title_key

FIXTURES = Path(__file__).parent / "fixtures" / "library"


@pytest.fixture(autouse=True)
def _quiet_bibtexparser() -> Iterator[None]:
    # bibtexparser logs a warning for every broken block; the fuzz tests make thousands.
    logger = logging.getLogger("bibtexparser")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def read_one(text: str, filename: str = "library.bib") -> ReadLibrary:
    return read_library(text.encode(), filename)


def only_id(text: str, filename: str = "library.bib") -> str | None:
    (entry,) = read_one(text, filename).entries
    return entry.arxiv_id


# --- real-looking exports -------------------------------------------------------------------


def test_zotero_bibtex_export() -> None:
    library = read_library(fixture("zotero.bib"), "My Library.bib")

    assert library.format == "bibtex"
    attention, resnet, german = library.entries
    assert attention.title == "Attention Is All You Need"
    assert attention.arxiv_id == "1706.03762"
    assert attention.authors[:2] == ("Ashish Vaswani", "Noam Shazeer")
    assert len(attention.authors) == 8
    assert attention.year == 2023
    assert attention.doi == "10.48550/arXiv.1706.03762"
    assert attention.url == "http://arxiv.org/abs/1706.03762"
    assert attention.abstract.startswith("The dominant sequence transduction models")
    assert "28.4 BLEU on the WMT 2014" in attention.abstract
    assert resnet.arxiv_id is None
    assert resnet.doi == "10.1109/CVPR.2016.90"
    assert resnet.title == "Deep Residual Learning for Image Recognition"
    assert german.arxiv_id == "2103.00020"
    # The entry with no title is reported, the @comment is not.
    assert library.skipped == (Skipped(line=41, key="noauthor_untitled_2022", reason="no title"),)


def test_latex_in_titles_and_names_is_decoded() -> None:
    german = read_library(fixture("zotero.bib"), "zotero.bib").entries[2]

    assert german.title == (
        "Über die Schätzung von Größen & Maßen: 50% schneller mit O(n log n) Schritten"
    )
    assert german.authors == ("Jörg Müller", "Søren Østergaard", "Anaïs François")


def test_google_scholar_export() -> None:
    library = read_library(fixture("scholar.bib"), "scholar.bib")

    bert, ddpm, witten = library.entries
    assert bert.arxiv_id == "1810.04805"
    assert bert.title == (
        "Bert: Pre-training of deep bidirectional transformers for language understanding"
    )
    assert ddpm.arxiv_id is None
    assert ddpm.year == 2020
    assert witten.arxiv_id == "hep-th/9802150"
    assert library.skipped == ()


def test_arxiv_export() -> None:
    library = read_library(fixture("arxiv.bib"), "arxiv.bib")

    llama, maldacena = library.entries
    assert llama.arxiv_id == "2302.13971"
    assert "Timothée Lacroix" in llama.authors
    assert maldacena.arxiv_id == "hep-th/9711200"
    assert maldacena.authors == ("Juan M. Maldacena",)


def test_zotero_ris_export() -> None:
    library = read_library(fixture("zotero.ris"), "Exported Items.ris")

    assert library.format == "ris"
    attention, resnet, scaling = library.entries
    assert attention.title == "Attention Is All You Need"
    assert attention.arxiv_id == "1706.03762"
    assert attention.authors == ("Ashish Vaswani", "Noam Shazeer")
    assert attention.year == 2023
    assert attention.abstract == (
        "The dominant sequence transduction models are based on complex recurrent or "
        "convolutional neural networks in an encoder-decoder configuration."
    )
    assert attention.url == "http://arxiv.org/abs/1706.03762"
    assert resnet.arxiv_id is None
    assert resnet.doi == "10.1109/CVPR.2016.90"
    assert scaling.arxiv_id == "2001.08361"
    assert library.skipped == (Skipped(line=34, key="notitle2022", reason="no title"),)


def test_titles_match_stored_papers_by_the_storage_title_key() -> None:
    (entry,) = read_one("@misc{k, title = {{BERT}: Pre-Training --- of {D}eep~Models}}").entries

    assert entry.title_key == title_key("BERT: Pre-training — of Deep Models")


# --- where the arXiv id is ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("eprint = {2401.01234v2}, archivePrefix = {arXiv}", "2401.01234"),
        ("eprint = {2401.01234}", "2401.01234"),
        ("eprint = {arXiv:2401.01234}, eprinttype = {arxiv}", "2401.01234"),
        ("eprint = {hep-th/9901001v1}, archiveprefix = {arXiv}", "hep-th/9901001"),
        ("eprint = {math.AG/0301001}", "math.AG/0301001"),
        ("eprint = {2401.01234}, archivePrefix = {HAL}", None),
        ("eprint = {hal-01234567}", None),
        ("arxiv = {2401.01234}", "2401.01234"),
        ("arxivid = {2401.01234v3}", "2401.01234"),
        ("url = {https://arxiv.org/abs/2401.01234}", "2401.01234"),
        ("url = {https://arxiv.org/abs/2401.01234v4}", "2401.01234"),
        ("url = {http://arxiv.org/pdf/2401.01234v2.pdf}", "2401.01234"),
        ("url = {https://arxiv.org/pdf/2401.01234}", "2401.01234"),
        ("url = {https://arxiv.org/html/2401.01234v1}", "2401.01234"),
        ("url = {https://www.arxiv.org/abs/0704.0001}", "0704.0001"),
        ("url = {https://export.arxiv.org/abs/hep-th/9901001v2}", "hep-th/9901001"),
        ("url = {https://arxiv.org/abs/cond-mat/0011234}", "cond-mat/0011234"),
        ("howpublished = {\\url{https://arxiv.org/abs/2401.01234}}", "2401.01234"),
        ("note = {arXiv:2401.01234 [cs.LG]}", "2401.01234"),
        ("note = {arXiv: 2401.01234v1}", "2401.01234"),
        ("doi = {10.48550/arXiv.2401.01234}", "2401.01234"),
        ("doi = {10.48550/ARXIV.2401.01234}", "2401.01234"),
        ("doi = {https://doi.org/10.48550/arxiv.2401.01234}", "2401.01234"),
        ("journal = {arXiv preprint arXiv:2401.01234}", "2401.01234"),
        ("journal = {CoRR}, volume = {abs/2401.01234}", "2401.01234"),
        # Not ids: too many digits, another DOI, a page number.
        ("note = {arXiv:2401.012345}", None),
        ("doi = {10.1109/CVPR.2016.90}", None),
        ("url = {https://example.org/2401.01234}", None),
        ("pages = {2401.01234}", None),
    ],
)
def test_bibtex_arxiv_id_sources(fields: str, expected: str | None) -> None:
    assert only_id(f"@misc{{key, title = {{A Title}}, {fields}}}") == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("UR  - https://arxiv.org/abs/2401.01234v2", "2401.01234"),
        ("UR  - https://example.org/a; https://arxiv.org/abs/2401.01234", "2401.01234"),
        ("DO  - 10.48550/arXiv.2401.01234", "2401.01234"),
        ("DO  - https://doi.org/10.48550/arXiv.hep-th/9901001", "hep-th/9901001"),
        ("L1  - https://arxiv.org/pdf/2401.01234v1.pdf", "2401.01234"),
        ("L2  - https://arxiv.org/abs/2401.01234", "2401.01234"),
        ("L3  - https://arxiv.org/abs/2401.01234", "2401.01234"),
        ("N1  - arXiv:2401.01234 [cs]", "2401.01234"),
        ("M1  - arXiv:2401.01234", "2401.01234"),
        ("JO  - arXiv preprint arXiv:2401.01234", "2401.01234"),
        ("T2  - arXiv:2401.01234", "2401.01234"),
        ("DO  - 10.1109/CVPR.2016.90", None),
    ],
)
def test_ris_arxiv_id_sources(lines: str, expected: str | None) -> None:
    text = f"TY  - JOUR\nTI  - A Title\n{lines}\nER  - \n"
    assert only_id(text, "library.ris") == expected


def test_the_explicit_eprint_wins_over_a_cited_url() -> None:
    text = "@misc{k, title={T}, eprint={2401.00001}, url={https://arxiv.org/abs/2401.00002}}"
    assert only_id(text) == "2401.00001"


# --- LaTeX ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        ('{T}he {\\"o} \\"o \\"{o} \\\'e \\`a \\^o \\~n', "The ö ö ö é à ô ñ"),
        ("\\c{c} \\v{s} \\u{g} \\H{o} \\k{a} \\r{a} \\={a} \\.{z}", "ç š ğ ő ą å ā ż"),
        ("\\'{\\i} Bj\\o rn {\\ss} \\ae{} \\AA", "í Bjørn ß æ Å"),
        ("\\& \\% \\$ \\# \\_ \\{ \\}", "& % $ # _ { }"),
        ("non~breaking\\ space\\\\ and\\,thin", "non breaking space and thin"),
        (
            "A -- B --- C ``quoted''",
            "A \N{EN DASH} B \N{EM DASH} C \N{LEFT DOUBLE QUOTATION MARK}"
            "quoted\N{RIGHT DOUBLE QUOTATION MARK}",
        ),
        ("$O(n^2)$ $\\alpha$-{GAN}", "O(n^2) \N{GREEK SMALL LETTER ALPHA}-GAN"),
        ("with $\\mathbf{x}_i$", "with x_i"),
        ("\\emph{Fast} \\textbf{and} \\textit{{L}oose}", "Fast and Loose"),
        ("100% sure", "100% sure"),  # an unescaped % is no comment in a BibTeX value
        ("\\LaTeX{} and \\textbackslash{}n", "LaTeX and \\n"),
        ("  many\n\tspaces  ", "many spaces"),
        ("unbalanced {braces and \\", "unbalanced braces and"),
    ],
)
def test_latex_to_text(latex: str, text: str) -> None:
    assert latex_to_text(latex) == text


# --- skipped entries --------------------------------------------------------------------------


def test_skipped_entries_carry_line_key_and_reason() -> None:
    text = (
        "@string{jan = {January}}\n"  # line 1: a macro, not reported
        "@misc{good, title = {Good}, month = jan}\n"
        "@misc{empty, title = {  {} }}\n"  # line 3
        "@xdata{shared, publisher = {ACM}}\n"  # line 4
        "@misc{broken, title = {Unclosed\n"  # line 5
        "@misc{after, title = {After}}\n"
        "@misc{good, title = {Same key again}}\n"
    )
    library = read_one(text)

    assert [entry.title for entry in library.entries] == ["Good", "After", "Same key again"]
    assert library.skipped == (
        Skipped(line=3, key="empty", reason="no title"),
        Skipped(line=4, key="shared", reason="not a paper entry (@xdata)"),
        Skipped(line=5, key=None, reason="unparsable"),
    )


def test_a_truncated_ris_record_keeps_what_it_holds() -> None:
    text = (
        "TY  - JOUR\nTI  - First\nER  - \nTY  - JOUR\nTI  - Cut off\nUR  - https://arxiv.org/abs/2"
    )
    library = read_one(text, "cut.ris")
    assert [entry.title for entry in library.entries] == ["First", "Cut off"]
    assert library.entries[1].arxiv_id is None


def test_ris_with_loose_tag_spacing() -> None:
    text = "TY - JOUR\nTI -  Loose\nAU - Doe, Jane\nER -\n"
    (entry,) = read_one(text, "loose.ris").entries
    assert (entry.title, entry.authors) == ("Loose", ("Jane Doe",))


# --- the whole file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("a.bib", "bibtex"), ("a.BIBTEX", "bibtex"), ("a.txt", "bibtex"), (None, "bibtex")],
)
def test_bibtex_by_name_or_content(filename: str | None, expected: str) -> None:
    assert read_library(fixture("arxiv.bib"), filename).format == expected


@pytest.mark.parametrize("filename", ["a.ris", "a.txt", "a.bib", None])
def test_ris_by_name_or_content(filename: str | None) -> None:
    assert read_library(fixture("zotero.ris"), filename).format == "ris"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])
def test_encodings(encoding: str) -> None:
    quoted = "\N{LEFT DOUBLE QUOTATION MARK}q\N{RIGHT DOUBLE QUOTATION MARK}"
    text = f"@misc{{k, title = {{Café {quoted if encoding == 'cp1252' else ''}}}}}"
    (entry,) = read_library(text.encode(encoding), "a.bib").entries
    assert entry.title.startswith("Café")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"  \n\t ", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is a binary file, not a BibTeX or RIS"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\x00", "binary file"),
        (b"Dear reader, here are my favourite papers.", "neither a BibTeX"),
        (b'{"title": "Attention"}', "neither a BibTeX"),
        (b"@comment{nothing here}\n", "No entries were found in this BibTeX file."),
        (b"@misc{a, year = 2020}\n@misc{b, author = {X}}", "None of the 2 entries could be read"),
        (b"TY  - JOUR\nAU  - Doe, J\nER  - \n", "None of the 1 entries could be read"),
    ],
)
def test_malformed_files_raise_one_line(data: bytes, message: str) -> None:
    with pytest.raises(LibraryError) as raised:
        read_library(data, "library.bib")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_too_many_entries() -> None:
    text = "".join(f"@misc{{k{i}, title = {{T{i}}}}}\n" for i in range(MAX_ENTRIES + 1))
    with pytest.raises(LibraryError, match="5,001 entries, more than 5,000"):
        read_one(text)
    ris = "TY  - JOUR\nTI  - T\nER  - \n" * (MAX_ENTRIES + 1)
    with pytest.raises(LibraryError, match="more than 5,000"):
        read_one(ris, "a.ris")


def test_the_cap_itself_is_read() -> None:
    text = "".join(f"@misc{{k{i}, title = {{T{i}}}}}\n" for i in range(MAX_ENTRIES))
    assert len(read_one(text).entries) == MAX_ENTRIES


def test_too_large() -> None:
    with pytest.raises(LibraryError, match="larger than 16 MB"):
        read_library(b"@misc{k, title={x}}" + b" " * MAX_BYTES)


# --- never anything but LibraryError, in bounded time -------------------------------------------


def read_or_refuse(data: bytes, filename: str | None) -> None:
    try:
        library = read_library(data, filename)
    except LibraryError as error:
        message = str(error)
    else:
        message = ""
        assert library.entries
    assert "\n" not in message
    if message:
        return
    assert all(entry.title for entry in library.entries)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2_000), filename=st.sampled_from(["a.bib", "a.ris", None]))
def test_random_bytes(data: bytes, filename: str | None) -> None:
    read_or_refuse(data, filename)


# Characters that matter to the parsers, so that random text reaches deep into them.
_SYNTAX = st.text(
    alphabet=st.sampled_from(list('@{}()",=#%\\$~^_&\n -TYERAUTI:/.0123456789abvarXiv')),
    max_size=400,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_SYNTAX, filename=st.sampled_from(["a.bib", "a.ris", None]))
def test_random_syntax(text: str, filename: str | None) -> None:
    read_or_refuse(text.encode(), filename)


@settings(max_examples=200, deadline=None)
@given(prefix=st.sampled_from(["@misc{k, title = {", "TY  - JOUR\nTI  - "]), body=st.text())
def test_random_values(prefix: str, body: str) -> None:
    read_or_refuse((prefix + body).encode("utf-8", "surrogatepass"), None)


@pytest.mark.parametrize("name", ["zotero.bib", "scholar.bib", "arxiv.bib", "zotero.ris"])
def test_truncated_and_garbled_exports(name: str) -> None:
    data = fixture(name)
    shuffle = random.Random(name)
    for cut in range(0, len(data), 7):
        read_or_refuse(data[:cut], name)
    for _ in range(300):
        garbled = bytearray(data)
        for _ in range(shuffle.randint(1, 20)):
            garbled[shuffle.randrange(len(garbled))] = shuffle.randrange(256)
        read_or_refuse(bytes(garbled), shuffle.choice([name, None]))


@pytest.mark.parametrize(
    "data",
    [
        b"@misc{k, title={" + b"a " * 1_500_000 + b"}}",
        b"@misc{k, title={" + b"{" * 500_000 + b"x" + b"}" * 500_000 + b"}}",
        b"@misc{k, title={" + b"\\'\\x" * 500_000 + b"}}",
        b"@misc{k, title={t}, author={" + b"a and " * 400_000 + b"}}",
        b"@misc{k, title={t}, author={" + b"a, " * 800_000 + b"}}",
        b"@misc{k, title={t}, note={" + b"arXiv:arxiv.org/abs/1234." * 100_000 + b"}}",
        b"\n@x{" * 600_000,
        b'@misc{k, title="' + b'{"}' * 500_000 + b'"}',
        b"TY  - JOUR\nAB  - a\n" + b"  more\n" * 400_000 + b"TI  - t\nER  - \n",
        b"TY  - JOUR\nTI  - " + b"x" * 3_000_000 + b"\nER  - \n",
    ],
    ids=[
        "long-title",
        "nested-braces",
        "accents",
        "authors",
        "commas",
        "id-lookalikes",
        "block-starts",
        "quotes",
        "ris-wrapped",
        "ris-long",
    ],
)
def test_adversarial_megabytes_in_bounded_time(data: bytes) -> None:
    started = time.perf_counter()
    read_or_refuse(data, None)
    # A few seconds at most here (measured 0.1-2 s, 15 on a machine loaded eightfold);
    # quadratic behaviour would take minutes.
    assert time.perf_counter() - started < 30
