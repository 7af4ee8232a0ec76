"""Text analysis: word families join what belongs together and keep apart what does not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.analysis import (
    compound_cuts,
    definitions,
    family,
    fold,
    is_dictionary_word,
    is_stop_word,
    max_typos,
    typo_distance,
    word_key,
    words,
)


@pytest.mark.parametrize(
    "group",
    [
        ("quantize", "quantized", "quantizing", "quantization", "quantisation", "quantizer"),
        ("segment", "segmented", "segmentation", "segments", "segmenting"),
        ("classify", "classified", "classifier", "classifiers", "classification"),
        ("compress", "compressed", "compression", "compressing", "compressor"),
        ("detect", "detected", "detector", "detection", "detections"),
        ("distill", "distilled", "distillation", "distil"),
        ("generate", "generated", "generation", "generator", "generating"),
        ("simulate", "simulated", "simulation", "simulator"),
        ("interpretable", "interpretability"),
        ("optimize", "optimized", "optimizer", "optimisation", "optimization"),
        ("annotate", "annotated", "annotation"),
        ("adapt", "adapted", "adaptation"),
        ("supervised", "supervision"),
        ("interpret", "interpreting", "interpreted", "interpretation"),
        ("analysis", "analyse", "analyze", "analyses"),
        ("recommender", "recommendation", "recommend"),
        ("retrieve", "retrieved", "retrieval"),
        ("encoder", "encode", "encoded"),
        ("planner", "planned", "planning"),
    ],
)
def test_a_word_family_shares_one_key(group: tuple[str, ...]) -> None:
    assert len({family(word) for word in group}) == 1, {w: family(w) for w in group}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("generative", "generalization"),
        ("generation", "generalization"),
        ("experience", "experiment"),
        ("continual", "continuous"),
        ("transformer", "transformation"),
        ("transformers", "transformed"),
        ("organ", "organization"),
        ("universal", "university"),
        ("computer", "computation"),
        ("foundation", "found"),
        ("validation", "valid"),
        ("presentation", "present"),
        ("limitation", "limited"),
        ("observation", "observed"),
        ("format", "form"),
        ("formation", "format"),
        ("station", "state"),
        ("notation", "not"),
        ("attention", "attend"),
        ("production", "product"),
        ("projection", "project"),
        ("direction", "direct"),
        ("factor", "fact"),
        ("mission", "missing"),
        ("question", "quest"),
        ("probability", "probe"),
        ("variable", "variation"),
        ("embedding", "embedded"),
        ("model", "modal"),
        ("community", "communication"),
        ("positional", "positive"),
    ],
)
def test_words_of_different_meaning_keep_apart(one: str, other: str) -> None:
    assert family(one) != family(other)
    assert word_key(one) != word_key(other)


def test_exact_forms_are_finer_than_families() -> None:
    # "quantized" and "quantization" are one family but two exact forms: search ranks the
    # exact form above its family.
    assert word_key("quantized") != word_key("quantization")
    assert word_key("Networks") == word_key("network")
    assert word_key("modelling") == word_key("modeling") == word_key("models")


def test_folding_and_tokens() -> None:
    assert fold("RÉSEAUX Graph-Based") == "reseaux graph-based"
    assert words("Graph-Based RÉSEAUX, (GNNs)") == ["graph", "based", "reseaux", "gnns"]


def test_a_swap_of_two_letters_is_one_typo() -> None:
    assert typo_distance("trasnformer", "transformer") == 1
    assert typo_distance("lagnuage", "language") == 1
    assert typo_distance("modles", "models") == 1
    assert max_typos("gnn") == 0
    assert max_typos("pruning") == 1
    assert max_typos("transformer") == 2


def test_real_words_are_no_typos() -> None:
    assert is_dictionary_word("university")
    assert is_dictionary_word("Universal")
    assert not is_dictionary_word("trasnformer")
    assert not is_dictionary_word("lagnuage")


def test_stop_words() -> None:
    assert is_stop_word("The")
    assert not is_stop_word("graph")


def test_compounds_split_off_short_heads() -> None:
    assert ("pre", "trained") in compound_cuts("pretrained")
    assert ("hyper", "parameters") in compound_cuts("hyperparameters")
    assert all(len(head) >= 3 and len(tail) >= 4 for head, tail in compound_cuts("finetuning"))


def test_acronym_definitions_are_read_as_families() -> None:
    found = dict(definitions("We study graph neural networks (GNNs) at scale."))
    assert found == {"GNN": ("graph", "neural", "network")}
    # A single word is a name, not an expansion.
    assert not list(definitions("the Transformer (TF) model"))


@given(st.text(max_size=60))
def test_any_word_has_keys(text: str) -> None:
    for word in words(text):
        assert isinstance(word_key(word), str)
        assert isinstance(family(word), str)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("news", "new"),
        ("note", "not"),
        ("rate", "rat"),
        ("plane", "plan"),
        ("mode", "mod"),
        ("code", "cod"),
        ("site", "sit"),
        ("lens", "len"),
        ("care", "car"),
        ("mine", "min"),
        ("activation", "active"),
        ("learnability", "learning"),
        ("operator", "operation"),
        ("based", "base"),
        ("pose", "POS"),
        ("lane", "LAN"),
        ("module", "modulation"),
        ("public", "publication"),
        ("probable", "probability"),
        ("accelerator", "accelerate"),
        ("interpretability", "interpret"),
    ],
)
def test_endings_never_make_one_word_another(one: str, other: str) -> None:
    assert word_key(one) != word_key(other)
    assert family(one) != family(other)


@pytest.mark.parametrize(
    "group",
    [
        ("note", "notes", "noted"),
        ("rate", "rates", "rating", "rated"),
        ("prune", "pruned", "pruning", "prunes"),
        ("plan", "planned", "planning", "plans"),
        ("code", "coded", "codes"),
        ("movie", "movies"),
        ("study", "studies", "studied"),
        ("pool", "pooled", "pooling"),
        ("form", "formed", "forming"),
        ("read", "reading"),
        ("employ", "employed"),
        ("focus", "focuses", "focused"),
        ("case", "cases"),
        ("bias", "biases"),
        ("match", "matches"),
        ("hope", "hoped", "hoping"),
    ],
)
def test_inflections_keep_their_word(group: tuple[str, ...]) -> None:
    assert len({word_key(word) for word in group}) == 1, {w: word_key(w) for w in group}


def test_keys_are_letters_and_digits_only() -> None:
    for text in ("½", "⑴", "⒈", "ŀ", "\u037a", "\ufdfa", "\ufb01ne", "İstanbul", "ǅ"):
        for word in words(text) or [text]:
            for key in (word_key(word), family(word)):
                assert key == "" or key.isalnum(), (text, key)
