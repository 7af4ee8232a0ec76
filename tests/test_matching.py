"""Keyword matching: the behaviours a subscriber expects, and quality on a labelled set."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import matching as matching_bench
from bot import matching, service
from bot.analysis import word_key
from bot.matching import Matcher
from bot.records import Paper

CORPUS = [
    Paper("Pruning Deep Networks", "We prune filters of convolutional neural networks (CNNs)."),
    Paper("Post-training Quantization", "Quantisation of weights with low-rank adapters."),
    Paper("Generative Adversarial Networks (GANs) for Audio", "A GAN that began as organ music."),
    Paper("Organ Segmentation", "This study began with organ scans; no adversarial training."),
    Paper("Graph neural networks (GNNs) at scale", "Message passing over large graphs."),
    Paper("Message Passing Revisited", "We study GNNs and their expressivity."),
    Paper("A Survey of Mixture-of-Experts", "Mixture of experts (MoE) layers, surveyed."),
    Paper("Sparse MoE Routing", "Routing tokens to experts in sparse MoEs."),
    Paper("Modal Logic for Agents", "A modal logic. Nothing about learning models here."),
    Paper("Network Normalisation", "Layer normalization and batch normalisation compared."),
    Paper("Continual Learning (CL) Benchmarks", "Continual learning (CL) without forgetting."),
    Paper("Cyclical Curriculum Learning", "Curriculum learning (CL) orders the examples."),
    Paper("Tuning Hyper-parameters", "Hyper-parameters of optimizers, and finetuning them."),
    Paper("Rank Low, Learn Fast", "A learning rate schedule: the rank stays low, the low loss."),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(CORPUS)


def titles(matcher: Matcher, *keywords: str) -> set[str]:
    return {match.paper.title for match in matcher.match(keywords)}


@pytest.mark.parametrize(
    "group",
    [
        ("network", "networks", "Networks"),
        ("prune", "pruning", "pruned", "prunes"),
        ("quantisation", "quantization", "Quantizations"),
        ("normalisation", "normalization"),
        ("modelling", "modeling", "models"),
        ("labelled", "labeled"),
        ("study", "studies", "studied"),
        ("embedding", "embeddings"),
    ],
)
def test_inflections_and_spellings_share_a_key(group: tuple[str, ...]) -> None:
    assert len({word_key(word) for word in group}) == 1


@pytest.mark.parametrize(
    ("one", "other"),
    [("embedding", "embedded"), ("model", "modal"), ("organ", "organization"), ("use", "using")],
)
def test_different_words_keep_different_keys(one: str, other: str) -> None:
    assert word_key(one) != word_key(other)


def test_inflections_match(matcher: Matcher) -> None:
    assert titles(matcher, "pruned") == {"Pruning Deep Networks"}
    assert titles(matcher, "quantization") == {"Post-training Quantization"}
    assert titles(matcher, "normalization") == {"Network Normalisation"}


def test_hyphen_and_space_variants(matcher: Matcher) -> None:
    assert titles(matcher, "low rank") == titles(matcher, "low-rank")
    assert "Post-training Quantization" in titles(matcher, "low rank")
    assert titles(matcher, "mixture of experts") >= {"A Survey of Mixture-of-Experts"}
    assert titles(matcher, "hyperparameters") == {"Tuning Hyper-parameters"}
    assert titles(matcher, "fine-tuning") == {"Tuning Hyper-parameters"}


def test_phrases_match_in_order_not_scattered(matcher: Matcher) -> None:
    assert "Rank Low, Learn Fast" not in titles(matcher, "low rank")
    assert titles(matcher, "rank low") == {"Rank Low, Learn Fast"}


def test_typos_match_without_unrelated_words(matcher: Matcher) -> None:
    assert titles(matcher, "prunning") == {"Pruning Deep Networks"}
    assert titles(matcher, "quantizaton") == {"Post-training Quantization"}
    assert titles(matcher, "normalisaton") == {"Network Normalisation"}
    # Known words are never "corrected" into other known words.
    assert titles(matcher, "modal") == {"Modal Logic for Agents"}
    # Short words get no typo tolerance: "grap" is not "graph".
    assert titles(matcher, "grap") == set()


def test_acronyms_are_whole_words_and_case_sensitive(matcher: Matcher) -> None:
    gan = titles(matcher, "GAN")
    assert gan == {"Generative Adversarial Networks (GANs) for Audio"}
    assert "Organ Segmentation" not in titles(matcher, "gan")


def test_acronym_and_long_form_find_each_other(matcher: Matcher) -> None:
    both = {"Graph neural networks (GNNs) at scale", "Message Passing Revisited"}
    assert titles(matcher, "GNN") == both
    assert titles(matcher, "graph neural networks") == both
    moe = {"A Survey of Mixture-of-Experts", "Sparse MoE Routing"}
    assert titles(matcher, "MoE") == moe
    assert titles(matcher, "mixture-of-experts") == moe


def test_an_acronym_defined_otherwise_does_not_count(matcher: Matcher) -> None:
    assert titles(matcher, "continual learning") == {"Continual Learning (CL) Benchmarks"}
    # Typed as an acronym, CL means whatever each paper says it means.
    assert titles(matcher, "CL") == {
        "Continual Learning (CL) Benchmarks",
        "Cyclical Curriculum Learning",
    }


def test_exclusions(matcher: Matcher) -> None:
    assert titles(matcher, "MoE", "-survey") == {"Sparse MoE Routing"}
    assert titles(matcher, "-survey") == set()
    assert titles(matcher, "", "-", "   ") == set()


def test_where_and_which_keyword(matcher: Matcher) -> None:
    [match] = matcher.match(["prune", "CNN"])
    assert {(hit.keyword, hit.where) for hit in match.hits} == {
        ("prune", "title"),
        ("CNN", "abstract"),
    }
    assert match.where == "title"


def test_each_distinct_keyword_is_evaluated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    compile_keyword = matching.read_keyword

    def counting(keyword: str, *args: object) -> object:
        calls.append(keyword)
        return compile_keyword(keyword, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(matching, "read_keyword", counting)
    shared = Matcher(CORPUS)
    for _ in range(100):
        shared.match(["GAN", "pruning", "-survey"])
    assert sorted(calls) == ["GAN", "pruning", "survey"]


@settings(max_examples=200)
@given(st.lists(st.text(max_size=40), max_size=5))
def test_any_keywords_are_safe(keywords: list[str]) -> None:
    matches = Matcher(CORPUS).match(keywords)
    assert all(match.hits for match in matches)


def test_reasons_are_built_only_for_the_papers_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    # A digest shows a few of the hundreds of papers a subscriber matches: building a Match
    # for every one of them, for every subscriber, was most of a digest run's matching time.
    built: list[int] = []
    make = matching.Match

    def counting(index: int, paper: Paper, hits: tuple[matching.Hit, ...]) -> matching.Match:
        built.append(index)
        return make(index, paper, hits)

    monkeypatch.setattr(matching, "Match", counting)
    matches = Matcher(CORPUS).match(["networks", "learning", "MoE"])
    assert len(matches) > 5
    assert built == []
    [first] = matches[:1]
    assert built == [first.index] == matches.indices[:1]


KEYWORDS = ["networks", "learning", "GAN", "CL", "prune", "-survey", "MoE", "-organ", "CNN"]


@settings(max_examples=100)
@given(st.lists(st.sampled_from(KEYWORDS), max_size=5), st.lists(st.integers(0, 9), min_size=14))
def test_matches_are_the_keywords_hits_combined(keywords: list[str], upvotes: list[int]) -> None:
    papers = [replace(paper, upvotes=votes) for paper, votes in zip(CORPUS, upvotes, strict=False)]
    matcher = Matcher(papers)
    excluded = {i for k in keywords if k.startswith("-") for i in matcher.hits(k[1:])}
    expected = [
        (index, paper, hits)
        for index, paper in enumerate(papers)
        if index not in excluded
        and (hits := tuple(matcher.hits(k)[index] for k in keywords if index in matcher.hits(k)))
    ]
    matches = matcher.match(keywords)
    assert [(m.index, m.paper, m.hits) for m in matches] == expected
    assert matches.indices == [index for index, _, _ in expected]
    # Digest order, as it was worked out from every match: title first, then upvotes.
    eager = sorted(matches, key=lambda m: (m.where != "title", -(m.paper.upvotes or 0)))
    assert service.ranked(matches) == eager


def test_the_benchmark_baseline_finds_what_the_matcher_finds() -> None:
    subscribers = [["networks", "-survey"], ["GAN", "CL", "prune"], ["MoE"], ["-organ"], []]
    assert (
        matching_bench.memoised(CORPUS, subscribers)[1]
        == (matching_bench.fast(CORPUS, subscribers)[1])
    )
