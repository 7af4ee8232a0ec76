"""Keyword hygiene (bot/keywords.py): cleaning, refusals, and keywords run together."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.keywords import Keyword, clean, counts, refusal, review, several
from bot.matching import Matcher
from bot.records import Paper
from bot.sources import parse_page
from storage.identity import title_key

# Three topics, each in papers of its own, and the phrases of the "real phrases" checks.
CORPUS = [
    Paper("Graph Neural Networks at Scale", "We train GNNs on billions of edges."),
    Paper("GNN Expressivity", "Graph neural networks (GNNs) and the WL test."),
    Paper("Pruning Experts", "Mixture-of-experts layers are pruned without retraining."),
    Paper("Diffusion Models for Audio", "A survey of diffusion samplers."),
    Paper("Large Language Models Reason", "Large language models solve puzzles."),
    Paper("Knowledge Distillation Revisited", "A student learns from a teacher."),
    Paper("RLHF at Scale", "Reinforcement learning from human feedback aligns models."),
    Paper("Vision Transformers", "Transformers for image recognition."),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(CORPUS)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("pruning.", Keyword("pruning")),
        ("  graph   neural networks;", Keyword("graph neural networks")),
        ("«MoE»", Keyword("MoE", quoted=True)),
        ("\u201cdiffusion\u201d:", Keyword("diffusion", quoted=True)),
        ("'low-rank'", Keyword("low-rank", quoted=True)),
        ("-survey", Keyword("survey", exclude=True)),
        ("- survey.", Keyword("survey", exclude=True)),
        ("\u2014survey", Keyword("survey", exclude=True)),  # a phone's em dash
        ('"-survey"', Keyword("survey", exclude=True, quoted=True)),
        ('-"GNN pruning".', Keyword("GNN pruning", exclude=True, quoted=True)),
        ('"GNN pruning"', Keyword("GNN pruning", quoted=True)),
        ('GNN pruning"', Keyword("GNN pruning")),  # one stray quote is not quoting
        ("(MoE)", Keyword("MoE")),
        ("Mixture of Experts (MoE)", Keyword("Mixture of Experts (MoE)")),
        ("pruning -", Keyword("pruning")),
        ("self-supervised learning...", Keyword("self-supervised learning")),
    ],
)
def test_clean(typed: str, expected: Keyword) -> None:
    assert clean(typed) == expected


@pytest.mark.parametrize("typed", ["", "  ", "-", "...", '""', "«»", "—"])
def test_nothing_but_punctuation_is_no_keyword(typed: str) -> None:
    assert clean(typed) is None


def test_stored_form_marks_exclusions() -> None:
    assert Keyword("survey", exclude=True).stored == "-survey"
    assert Keyword("survey").stored == "survey"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("a", "a single letter matches almost every paper"),
        ("-a", "a single letter matches almost every paper"),
        ("7", "a single character matches almost every paper"),
        ("e.g.", "single letters match almost every paper"),
        ("the", "too common a word to pick papers"),
        ("The", "too common a word to pick papers"),
        ("of the", "too common words to pick papers"),
        ("++", "it has no letters or digits"),
    ],
)
def test_refusals(typed: str, reason: str) -> None:
    keyword = clean(typed)
    assert keyword is not None
    assert refusal(keyword) == reason


@pytest.mark.parametrize("typed", ["AI", "IT", "US", "RL", "pruning", "the transformer", "3D"])
def test_short_and_common_words_that_are_fine(typed: str) -> None:
    """Acronyms are matched case-sensitively, so "IT" in capitals is not the word "it"."""
    keyword = clean(typed)
    assert keyword is not None
    assert refusal(keyword) is None


def test_run_together_keywords_are_questioned(matcher: Matcher) -> None:
    assert several(Keyword("GNN pruning diffusion"), matcher) == ["GNN", "pruning", "diffusion"]
    # An acronym beside a word is enough, and an exclusion stays one in each part.
    assert several(Keyword("GNN pruning"), matcher) == ["GNN", "pruning"]
    assert several(Keyword("GNN diffusion", exclude=True), matcher) == ["-GNN", "-diffusion"]
    assert several(Keyword("GNN -diffusion"), matcher) == ["GNN", "-diffusion"]
    assert several(Keyword("GNN; pruning; diffusion"), matcher) == ["GNN", "pruning", "diffusion"]


@pytest.mark.parametrize(
    "phrase",
    [
        "graph neural networks",  # used by the papers
        "large language models",
        "knowledge distillation",  # two ordinary words: never questioned
        "reinforcement learning from human feedback",  # a stop word joins a phrase
        "pruning diffusion",  # two ordinary words, even if the papers never join them
        "GNN graph neural networks",  # an acronym with its long form
        "vision transformers pruning",  # built on a phrase the papers use
        "GNN expressivity",  # an acronym beside a word: but a paper has both
    ],
)
def test_real_phrases_are_not_questioned(matcher: Matcher, phrase: str) -> None:
    assert several(Keyword(phrase), matcher) is None


def test_quotes_and_missing_evidence_keep_a_phrase(matcher: Matcher) -> None:
    assert several(Keyword("GNN pruning diffusion", quoted=True), matcher) is None
    # A word no paper uses gives no reason to split: the keyword is kept as typed.
    assert several(Keyword("GNN pruning zeppelins"), matcher) is None
    # A word matched only as a typo of another is no evidence either: "difusion" finds the
    # diffusion papers, but it may as well be a word the papers do not use yet.
    assert matcher.hits("difusion")
    assert several(Keyword("GNN pruning difusion"), matcher) is None
    # With nothing stored, nothing is questioned.
    assert several(Keyword("GNN pruning diffusion"), Matcher([])) is None


def test_words_that_meet_in_one_paper_are_one_topic() -> None:
    papers = [*CORPUS, Paper("Pruning GNNs for Diffusion", "We prune GNN layers.")]
    assert several(Keyword("GNN pruning diffusion"), Matcher(papers)) is None


def test_review_sorts_keywords(matcher: Matcher) -> None:
    found = review(["pruning.", "a", "GNN pruning diffusion", "...", "-survey"], matcher)
    assert found.accepted == [Keyword("pruning"), Keyword("survey", exclude=True)]
    assert found.refused == [(Keyword("a"), "a single letter matches almost every paper")]
    assert found.questioned == [(Keyword("GNN pruning diffusion"), ["GNN", "pruning", "diffusion"])]
    assert len(found.typed) == 4
    # Without papers to judge by (an export's list), nothing is questioned.
    assert review(["GNN pruning diffusion"], None).accepted == [Keyword("GNN pruning diffusion")]


def test_counts_use_the_matcher_and_suggest_for_none(
    matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def suggest(self: Matcher, keyword: str) -> str | None:
        asked.append(keyword)
        return "pruning"

    monkeypatch.setattr(Matcher, "suggest", suggest)
    found = counts([Keyword("diffusion"), Keyword("zeppelins"), Keyword("GNN", True)], matcher)
    assert [(c.keyword.stored, c.papers, c.suggestion) for c in found] == [
        ("diffusion", 1, None),
        ("zeppelins", 0, "pruning"),
        ("-GNN", 2, None),
    ]
    assert asked == ["zeppelins"]


def _seed_papers(seed_pages: list[Path]) -> list[Paper]:
    papers: dict[str, Paper] = {}
    for path in seed_pages:
        for paper in parse_page(path.read_bytes()).papers:
            papers.setdefault(title_key(paper.title), paper)
    return list(papers.values())


def test_on_the_seed_papers(seed_pages: list[Path]) -> None:
    """The rule on a real store: common phrases pass, the welcome text's example does not."""
    matcher = Matcher(_seed_papers(seed_pages))
    for phrase in (
        "graph neural networks",
        "large language models",
        "knowledge distillation",
        "reinforcement learning from human feedback",
        "diffusion models",
        "mixture of experts",
        "vision transformers",
        "state space models",
        "low-rank adaptation",
        "neural architecture search",
    ):
        assert several(Keyword(phrase), matcher) is None, phrase
    assert several(Keyword("GNN pruning diffusion"), matcher) == ["GNN", "pruning", "diffusion"]
