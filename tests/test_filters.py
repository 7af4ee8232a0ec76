"""cat: and author: in keywords (bot/filters.py, bot/categories.py) and in the matcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import categories, filters, keywords
from bot.matching import Matcher
from bot.records import Paper
from bot.service import split_keywords
from bot.sources import arxiv_feed
from tests.conftest import FIXTURES


def crosslist() -> tuple[Paper, ...]:
    text = (Path(FIXTURES) / "arxiv_crosslist.atom").read_text(encoding="utf-8")
    return arxiv_feed.parse(text).papers


def test_parser_keeps_cross_lists_and_accented_authors() -> None:
    jepa, robots, latent, pruning = crosslist()
    assert jepa.categories == ("cs.CV", "cs.LG", "stat.ML")  # primary first
    assert jepa.authors == ("Yann LeCun", "Jürgen Schäfl", "María García-López")
    assert robots.categories == ("cs.RO", "cs.CV")
    assert latent.authors == ("Y. LeCun", "Johannes Schafl", "Maria Garcia Lopez")
    assert pruning.authors == ("Geoffrey E. Hinton", "Łukasz Kaiser")
    assert pruning.categories == ("cs.CL", "cs.AI", "I.2.7")  # ACM classes too


def test_taxonomy() -> None:
    assert len(categories.taxonomy()) >= 150
    assert categories.canonical("cs.cl") == "cs.CL"
    assert categories.canonical("COND-MAT.STR-EL") == "cond-mat.str-el"
    assert categories.canonical("hep-th") == "hep-th"
    assert categories.canonical("math") == "math"  # an archive
    assert categories.canonical("cs.CLL") is None
    assert categories.suggest("cs.CLL") == "cs.CL"
    assert categories.name("cs.CL") == "Computation and Language"
    assert categories.within(["cs.LG", "stat.ML"], "stat.ML")
    assert categories.within(["math.NA"], "cs.NA")  # an alias
    assert categories.within(["q-bio.NC"], "q-bio")
    assert not categories.within(["cs.CL"], "cs.CV")
    assert not categories.within(["math.CO"], "math-ph")


def test_parse_and_write_back() -> None:
    parsed = filters.parse('diffusion cat:cs.cv author:"Yann  LeCun"')
    assert parsed.filters == (
        filters.Filter("cat", "cs.CV"),
        filters.Filter("author", "Yann LeCun"),
    )
    assert parsed.text == "diffusion"
    assert parsed.written == 'cat:cs.CV author:"Yann LeCun" diffusion'
    assert filters.parse("author:LeCun -cat:cs.RO").filters[1].exclude
    assert filters.parse("author:“Yann LeCun”").filters[0].value == "Yann LeCun"
    assert not filters.has_filters("category theory: a survey")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("cat:cs.cl", "cat:cs.CL"),
        ("-cat:cs.ro", "-cat:cs.RO"),
        ('author:"Yann LeCun"', 'author:"Yann LeCun"'),
        ("author: LeCun.", "author:LeCun"),
        ("cat:cs.CV   diffusion", "cat:cs.CV diffusion"),
    ],
)
def test_keywords_are_stored_one_way(typed: str, stored: str) -> None:
    keyword = keywords.clean(typed)
    assert keyword is not None
    assert keyword.stored == stored
    assert keywords.refusal(keyword) is None


def test_unknown_category_is_refused_with_a_suggestion() -> None:
    found = keywords.review(["cat:cs.CLL", "cat:cs.CV a", "cat:qq.XX"], None)
    assert [(k.stored, reason) for k, reason in found.refused] == [
        (
            "cat:cs.CLL",
            "cat:cs.CLL is not an arXiv category; did you mean cat:cs.CL "
            "(Computation and Language)?",
        ),
        ("cat:cs.CV a", "a single letter matches almost every paper"),
        (
            "cat:qq.XX",
            "cat:qq.XX is not an arXiv category (arxiv.org/category_taxonomy lists them)",
        ),
    ]


def test_split_keeps_a_quoted_name_whole() -> None:
    assert split_keywords('author:"LeCun, Yann", cat:cs.CV diffusion -cat:cs.RO') == [
        'author:"LeCun, Yann"',
        "cat:cs.CV diffusion",
        "-cat:cs.RO",
    ]


def titles(matcher: Matcher, *wanted: str) -> set[str]:
    return {match.paper.title.split()[0] for match in matcher.match(wanted)}


def test_matching_categories_authors_and_combinations() -> None:
    matcher = Matcher(crosslist())
    # Primary or cross-listed; any case.
    assert titles(matcher, "cat:cs.CV") == {"Joint", "Diffusion", "Latent"}
    assert titles(matcher, "cat:stat.ML") == {"Joint"}
    assert titles(matcher, "cat:cs.CL") == {"Structured"}
    # Both: in the category and about the words.
    assert titles(matcher, "cat:cs.CV diffusion") == {"Diffusion", "Latent", "Joint"}
    assert titles(matcher, "cat:cs.LG diffusion") == {"Latent", "Joint"}
    # -cat: excludes like -survey.
    assert titles(matcher, "cat:cs.CV", "-cat:cs.RO") == {"Joint", "Latent"}
    assert titles(matcher, "diffusion", "-cat:cs.RO") == {"Joint", "Latent"}
    # An author: never Xavier LeCun for Yann; a last name alone finds both.
    assert titles(matcher, 'author:"Yann LeCun"') == {"Joint", "Latent"}
    assert titles(matcher, 'author:"LeCun, Yann"') == {"Joint", "Latent"}
    assert titles(matcher, "author:LeCun") == {"Joint", "Diffusion", "Latent"}
    assert titles(matcher, "author:Schafl") == {"Joint", "Latent"}
    assert titles(matcher, 'author:"Maria Garcia-Lopez"') == {"Joint", "Latent"}
    assert titles(matcher, 'author:"Lukasz Kaiser" pruning') == {"Structured"}
    assert titles(matcher, 'author:"Yann LeCun" pruning') == set()
    assert titles(matcher, 'author:"Yann LeCun" cat:cs.LG') == {"Joint", "Latent"}


def test_hits_say_where_and_label() -> None:
    matcher = Matcher(crosslist())
    [author] = matcher.match(['author:"Yann LeCun"'])[:1]
    assert (author.hits[0].label, author.where) == ('author:"Yann LeCun"', "author")
    [category] = matcher.match(["cat:stat.ML"])
    assert category.where == "category"
    both = matcher.match(["cat:cs.RO diffusion"])
    assert [m.where for m in both] == ["title"]
    assert matcher.suggest("cat:cs.RO") is None
