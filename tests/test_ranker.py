"""bot/ranker.py on its own: why a paper is recommended, and a stored ranker's scores."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from bot import ranker

# Analysed texts (title, abstract): three subjects, three papers each.
SUBJECTS = {
    "protein": "protein fold structure residue",
    "graph": "graph node edge message",
    "speech": "speech audio acoustic phoneme",
}
PAPERS = {
    number * 10 + n: (f"{words} {n}", f"{words} study {n} {subject}")
    for number, (subject, words) in enumerate(SUBJECTS.items(), start=1)
    for n in range(3)
}


def _pool() -> ranker.Pool:
    found = ranker.pool(PAPERS)
    assert found is not None
    return found


def _anchor(label: str, terms: dict[str, float]) -> ranker.Anchor:
    return ranker.Anchor(label, "liked", terms)


def test_because_names_the_anchor_whose_terms_the_paper_shares() -> None:
    found = _pool()
    anchors = [
        _anchor("Graphs", {"graph": 0.5, "node": 0.5, "unknown_term": 9.0}),
        _anchor("Proteins", {"protein": 0.5, "fold": 0.5}),
        _anchor("Speech", {"speech": 0.4, "acoustic": 0.4}),
    ]
    model = ranker.Model({}, 0.0, anchors, [])
    named = ranker.because(model, found, [10, 21, 32, 999])
    assert [a.label if a else None for a in named] == ["Proteins", "Graphs", "Speech", None]


def test_because_takes_the_first_of_equal_anchors_and_none_without_anchors() -> None:
    found = _pool()
    twins = [_anchor("First", {"graph": 0.5}), _anchor("Second", {"graph": 0.5})]
    nothing_shared = [_anchor("A", {"zzz": 1.0}), _anchor("B", {"yyy": 1.0})]
    assert [
        a.label for a in ranker.because(ranker.Model({}, 0.0, twins, []), found, [20]) if a
    ] == ["First"]
    assert [
        a.label for a in ranker.because(ranker.Model({}, 0, nothing_shared, []), found, [20]) if a
    ] == ["A"]
    assert ranker.because(ranker.Model({}, 0.0, [], []), found, [20, 30]) == [None, None]


def test_scores_are_the_weights_of_the_known_terms_plus_the_bias() -> None:
    found = _pool()
    weights = {"protein": 2.0, "speech": -1.0, "not_in_the_pool": 100.0}
    scored = ranker.scores(ranker.Model(weights, 0.25, [], []), found)
    vocabulary = found.vectorizer.vocabulary_
    dense = found.matrix.toarray()
    expected = 2.0 * dense[:, vocabulary["protein"]] - dense[:, vocabulary["speech"]] + 0.25
    np.testing.assert_allclose(scored, expected)
    assert scored[found.row[10]] > scored[found.row[20]] == 0.25 > scored[found.row[30]]


def _fitted(found: ranker.Pool) -> ranker.Model:
    liked = [ranker.Example(PAPERS[n], f"paper {n}", "liked", n) for n in (10, 11)]
    disliked = [ranker.Example(PAPERS[30], "paper 30", "disliked", 30)]
    model = ranker.fit(found, [*liked, *disliked])
    assert model is not None
    return model


def test_a_stored_ranker_reads_back_exactly() -> None:
    found = _pool()
    model = _fitted(found)
    stored = model.to_json()
    back = ranker.Model.from_json(stored)
    assert back.to_json() == stored
    assert dict(back.weights) == dict(model.weights)
    assert [dict(a.terms) for a in back.anchors] == [dict(a.terms) for a in model.anchors]
    np.testing.assert_array_equal(ranker.scores(back, found), ranker.scores(model, found))
    ids = list(PAPERS)
    assert ranker.because(back, found, ids) == ranker.because(model, found, ids)
    dense = dataclasses.replace(model, dense=[0.125, -1 / 3, 2.0])
    assert ranker.Model.from_json(dense.to_json()).dense == [0.125, -1 / 3, 2.0]


def test_a_ranker_stored_before_packing_still_reads() -> None:
    found = _pool()
    model = _fitted(found)
    before = json.dumps(
        {
            "weights": dict(model.weights),
            "bias": model.bias,
            "anchors": [[a.label, a.kind, dict(a.terms)] for a in model.anchors],
            "known": model.known,
            "dense": [0.5, 0.25],
        }
    )
    back = ranker.Model.from_json(before)
    np.testing.assert_array_equal(ranker.scores(back, found), ranker.scores(model, found))
    assert back.dense == [0.5, 0.25]
    assert back.known_titles == []
    assert ranker.Model.from_json(back.to_json()).weights == model.weights


def test_weights_and_terms_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 terms and 1 weights"):
        ranker.Weights(["a", "b"], np.array([1.0]))
    weights = ranker.Weights(["a", "b"], np.array([1.0, -2.5]))
    assert weights["b"] == -2.5
    assert list(weights.items()) == [("a", 1.0), ("b", -2.5)]


_EMPTY = '"bias": 0, "anchors": [], "known": []'


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        (f'{{"format": 2, "weights": [["a"], "not base64!"], {_EMPTY}}}', "base64"),
        (f'{{"format": 2, "weights": [["a"], "AAAAAAA="], {_EMPTY}}}', "multiple"),
        (f'{{"format": 2, "weights": [["a"], "AAAAAAAA+H8="], {_EMPTY}}}', "finite"),
        (f'{{"format": 2, "weights": [["a", "b"], "AAAAAAAA8D8="], {_EMPTY}}}', "2 terms"),
        (f'{{"format": "2", "weights": [], {_EMPTY}}}', "unknown format '2'"),
        (f'{{"format": 3, "weights": [], {_EMPTY}}}', "unknown format 3"),
    ],
)
def test_a_damaged_stored_ranker_is_refused(stored: str, why: str) -> None:
    """Bad base64, a partial number, NaN, fewer weights than terms, an unknown format."""
    with pytest.raises(ValueError, match=why):
        ranker.Model.from_json(stored)


def _reference_because(model: ranker.Model, found: ranker.Pool, paper_id: int) -> str | None:
    """The reason as it was first written: each anchor's terms summed one by one."""
    row = found.row.get(paper_id)
    if row is None or not model.anchors:
        return None
    start, end = found.matrix.indptr[row], found.matrix.indptr[row + 1]
    terms = {
        found.names[j]: float(v)
        for j, v in zip(found.matrix.indices[start:end], found.matrix.data[start:end], strict=True)
    }
    best = max(
        model.anchors,
        key=lambda a: sum(w * terms.get(t, 0.0) for t, w in a.terms.items()),
    )
    return best.label


def test_because_agrees_with_summing_each_anchor() -> None:
    """Random anchors (negative weights, terms the pool lacks, unequal sizes, twins) over
    the pool's papers: the vectorised reasons are the anchor-by-anchor ones."""
    found = _pool()
    rng = np.random.default_rng(3)
    names = [*found.names, "not_in_the_pool", "nor_this"]
    for _ in range(200):
        anchors = []
        for n in range(int(rng.integers(1, 6))):
            size = int(rng.integers(1, 8))
            picked = rng.choice(names, size=size, replace=False)
            terms = {str(t): float(rng.normal()) for t in picked}
            anchors.append(_anchor(f"anchor {n}", terms))
        if rng.random() < 0.3:
            anchors.append(_anchor("twin", dict(anchors[0].terms)))
        model = ranker.Model({}, 0.0, anchors, [])
        for stored in (model, ranker.Model.from_json(model.to_json())):
            ids = [*PAPERS, 999]
            got = [a.label if a else None for a in ranker.because(stored, found, ids)]
            assert got == [_reference_because(model, found, i) for i in ids]
