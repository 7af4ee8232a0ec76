"""The recommender: what a chat liked, saved and imported, learnt as a linear model over
tf-idf features of papers' word families (bot/analysis.py, as the search index holds them).

As arxiv-sanity-lite does, a linear SVM separates the chat's papers from the others; unlike
it, the features are word families and their pairs (so "pruned" and "pruning" are one
feature) with the title counted twice, and the model is refitted a few times with the
papers it ranks highest added as positives: a library is a sample of what the reader
follows, and the unlabelled papers that most resemble it are the likeliest of the rest to
belong with it (self-training). Where the sentence model is installed (bot/embedding.py),
each paper's sentence vector joins its words as features: papers on one subject that share
few words still lie close there. Pure: papers in, scores and reasons out.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise, repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.analysis import STOP_WORDS, family
from storage.identity import title_key

if TYPE_CHECKING:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

# Analysed texts: a paper's title and abstract as space-separated word families.
Text = tuple[str, str]

TITLE_WEIGHT = 2
# Regularisation: arxiv-sanity-lite uses 0.01; 0.1 ranked a little better on the labelled
# development topics (bench/recommend.py).
C = 0.1
# Sentence vectors beside the words: their weight against the tf-idf part, and the
# regularisation with them (chosen on the development and first held-out topics, where the
# vectors gave +0.04 and +0.02 precision@10; bench/recommend.py).
DENSE_WEIGHT = 0.7
C_DENSE = 0.3
# Self-training: rounds of adding the best-ranked unlabelled papers as positives.
ROUNDS = 2
ADDED_PER_ROUND = 3
# A disliked paper counts as much as this many unlabelled ones.
DISLIKE_WEIGHT = 3.0
# What a stored model keeps: the heaviest terms, and per anchor paper its heaviest terms.
MODEL_TERMS = 1_000
# How Model.to_json stores the numbers: packed arrays (format 2), not one JSON number each.
PACKED = 2
ANCHOR_TERMS = 12
ANCHORS = 30


@cache
def _stop() -> frozenset[str]:
    # On first use, not at import: a family reads the spelling dictionary (0.15 s), which
    # `paperboy run` would otherwise load before it answers anything.
    return frozenset(STOP_WORDS | {family(word) for word in STOP_WORDS})


def features(analysed: Text) -> list[str]:
    """The terms of a paper: word families and adjacent pairs, the title's counted twice."""
    stop = _stop()
    terms: list[str] = []
    for text, weight in ((analysed[0], TITLE_WEIGHT), (analysed[1], 1)):
        keys = text.split()
        words = [key for key in keys if key not in stop and not key.isdigit()]
        pairs = [
            f"{one}_{two}" for one, two in pairwise(keys) if one not in stop and two not in stop
        ]
        terms += (words + pairs) * weight
    return terms


@dataclass(frozen=True)
class Pool:
    """The papers recommendations are drawn from, as one tf-idf matrix (rows in `ids`
    order); its vocabulary and weights also read the papers a chat learns from."""

    ids: list[int]
    vectorizer: TfidfVectorizer
    matrix: sparse.csr_matrix
    row: dict[int, int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # the term of each column
    # Sentence vectors (rows as in `matrix`), and both side by side, when the model is there.
    dense: np.ndarray | None = None
    joint: sparse.csr_matrix | None = None

    def vectors(self, texts: Sequence[Text]) -> sparse.csr_matrix:
        return self.vectorizer.transform(texts)


def _joint(words: sparse.csr_matrix, dense: np.ndarray) -> sparse.csr_matrix:
    from scipy import sparse

    return sparse.hstack([words, sparse.csr_matrix(DENSE_WEIGHT * dense)]).tocsr()


def pool(
    papers: Mapping[int, Text], vectors: Mapping[int, np.ndarray] | None = None
) -> Pool | None:
    """Features for these papers, with their sentence vectors if given (one for every
    paper); None when there are too few papers to learn anything from."""
    ids = list(papers)
    if len(ids) < 2:
        return None
    # Imported here: scikit-learn takes half a second to import, which every command would
    # pay otherwise (`paperboy --version` included).
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        analyzer=features, sublinear_tf=True, min_df=2 if len(ids) >= 50 else 1, max_df=0.5
    )
    try:
        matrix = vectorizer.fit_transform([papers[i] for i in ids])
    except ValueError:  # no term in enough papers
        return None
    dense = np.vstack([vectors[i] for i in ids]) if vectors is not None else None
    return Pool(
        ids,
        vectorizer,
        matrix.tocsr(),
        {paper_id: n for n, paper_id in enumerate(ids)},
        [str(name) for name in vectorizer.get_feature_names_out()],
        dense,
        _joint(matrix, dense) if dense is not None else None,
    )


class Weights(Mapping[str, float]):
    """Term weights as a stored ranker keeps them: its terms, and their weights in one array.
    Reading 1,400 numbers into a dict was most of the cost of reading a chat's ranker back,
    which a digest run does for every chat."""

    __slots__ = ("_index", "array", "terms")

    def __init__(self, terms: list[str], array: np.ndarray) -> None:
        if len(terms) != len(array):
            raise ValueError(f"{len(terms)} terms and {len(array)} weights")
        self.terms = terms
        self.array = array
        self._index: dict[str, int] | None = None

    def __getitem__(self, term: str) -> float:
        if self._index is None:
            self._index = {name: n for n, name in enumerate(self.terms)}
        return float(self.array[self._index[term]])

    def __iter__(self) -> Iterator[str]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)


def _values(weights: Mapping[str, float]) -> np.ndarray:
    if isinstance(weights, Weights):
        return weights.array
    return np.fromiter(weights.values(), dtype=np.float64, count=len(weights))


# Little-endian float64 whatever the machine: exactly the numbers written, not their digits.
_PACKED_TYPE = np.dtype("<f8")


def _packed_array(values: Sequence[float] | np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype=_PACKED_TYPE).tobytes()).decode("ascii")


def _array(packed: str) -> np.ndarray:
    """Raises ValueError (binascii.Error is one) unless it is finite numbers, packed."""
    array = np.frombuffer(base64.b64decode(packed, validate=True), dtype=_PACKED_TYPE)
    if not np.isfinite(array).all():
        raise ValueError("a weight is not a finite number")
    return array


def _pack(weights: Mapping[str, float]) -> list[object]:
    return [list(weights), _packed_array(_values(weights))]


def _unpack(packed: list[Any]) -> Weights:
    terms, data = packed
    return Weights(terms, _array(data))


@dataclass(frozen=True)
class Anchor:
    """A paper the chat learnt from, to say why a paper is recommended."""

    label: str  # its title
    kind: str  # "liked", "saved" or "library"
    terms: Mapping[str, float]


@dataclass(frozen=True)
class Model:
    """A chat's fitted ranker: a weight per term, the papers it learnt from (to say why),
    and the ids of the stored ones (never to be recommended)."""

    weights: Mapping[str, float]
    bias: float
    anchors: list[Anchor]
    known: list[int]
    # Title keys of examples that were not stored papers when it was fitted: a paper of that
    # title stored since is the chat's own, not one to recommend.
    known_titles: list[str] = field(default_factory=list)
    # The weight of each dimension of a paper's sentence vector; None if learnt from words.
    dense: list[float] | None = None

    def to_json(self) -> str:
        """The model as stored: its weights packed (format 2), read back exactly."""
        dense = None if self.dense is None else _packed_array(self.dense)
        return json.dumps(
            {
                "format": PACKED,
                "weights": _pack(self.weights),
                "bias": self.bias,
                "anchors": [[a.label, a.kind, _pack(a.terms)] for a in self.anchors],
                "known": self.known,
                "known_titles": self.known_titles,
                "dense": dense,
            }
        )

    @staticmethod
    def from_json(text: str) -> Model:
        """A stored model, packed or as stored before format 2 (plain numbers). Raises
        ValueError, KeyError or TypeError if it is neither."""
        data = json.loads(text)
        if data.get("format", PACKED) != PACKED:
            raise ValueError(f"unknown format {data['format']!r}")
        packed = "format" in data
        read = _unpack if packed else dict
        anchors = [Anchor(label, kind, read(terms)) for label, kind, terms in data["anchors"]]
        dense = data.get("dense")
        return Model(
            read(data["weights"]),
            float(data["bias"]),
            anchors,
            data["known"],
            data.get("known_titles", []),
            dense if dense is None or not packed else _array(dense).tolist(),
        )


@dataclass(frozen=True)
class Example:
    """A paper the chat gave feedback on: its analysed text, title and what kind."""

    text: Text
    title: str
    kind: str  # "liked", "saved", "library" or "disliked"
    paper_id: int | None = None
    vector: np.ndarray | None = None  # its sentence vector


def _top(vector: np.ndarray, names: np.ndarray, count: int) -> dict[str, float]:
    order = np.argsort(-np.abs(vector))[:count]
    return {str(names[i]): round(float(vector[i]), 5) for i in order if vector[i] != 0}


def fit(found: Pool, examples: Sequence[Example]) -> Model | None:
    """Learn a chat's ranker; None without a positive example."""
    positive = [e for e in examples if e.kind != "disliked"]
    if not positive:
        return None
    negative = [e for e in examples if e.kind == "disliked"]
    known = {e.paper_id for e in examples if e.paper_id is not None}
    background = [n for n, paper_id in enumerate(found.ids) if paper_id not in known]
    dense = found.joint is not None and all(e.vector is not None for e in examples)

    def rows(chosen: Sequence[Example], tfidf: sparse.csr_matrix) -> sparse.csr_matrix:
        if not dense:
            return tfidf
        return _joint(tfidf, np.vstack([e.vector for e in chosen if e.vector is not None]))

    words = found.vectors([e.text for e in positive])
    pos = rows(positive, words)
    neg = rows(negative, found.vectors([e.text for e in negative])) if negative else None
    matrix = found.joint if dense and found.joint is not None else found.matrix
    added: list[int] = []
    from scipy import sparse
    from sklearn.svm import LinearSVC

    model: LinearSVC | None = None
    for _ in range(ROUNDS + 1):
        rest = [n for n in background if n not in set(added)]
        parts = [pos, matrix[added], matrix[rest]]
        labels = [np.ones(pos.shape[0] + len(added)), np.zeros(len(rest))]
        weights = [np.ones(pos.shape[0] + len(added)), np.ones(len(rest))]
        if neg is not None:
            parts.append(neg)
            labels.append(np.zeros(neg.shape[0]))
            weights.append(np.full(neg.shape[0], DISLIKE_WEIGHT))
        y = np.concatenate(labels)
        if y.min() == y.max():
            break
        model = LinearSVC(
            C=C_DENSE if dense else C, class_weight="balanced", max_iter=10_000, tol=1e-6
        )
        model.fit(sparse.vstack(parts).tocsr(), y, sample_weight=np.concatenate(weights))
        scores = model.decision_function(matrix[rest]) if rest else np.array([])
        best = [rest[i] for i in np.argsort(-scores)[:ADDED_PER_ROUND]]
        added += best
    if model is None:
        return None
    names = np.array(found.names)
    anchors = [
        Anchor(e.title, e.kind, _top(words[n].toarray().ravel(), names, ANCHOR_TERMS))
        for n, e in enumerate(positive[:ANCHORS])
    ]
    coef = model.coef_.ravel()
    learnt = _top(coef[: len(names)], names, MODEL_TERMS)
    # Scores are words @ coef + (DENSE_WEIGHT * vector) @ coef: the weight goes into the model.
    vector = [round(float(w), 6) for w in DENSE_WEIGHT * coef[len(names) :]] if dense else None
    titles = sorted({title_key(e.title) for e in examples if e.paper_id is None})
    return Model(learnt, float(model.intercept_[0]), anchors, sorted(known), titles, vector)


def _lookup(terms: Sequence[str], found: Pool) -> np.ndarray:
    """Each term's column in the pool, -1 for a term it lacks. By map() over the
    vocabulary's get, not a loop: a digest run does this for every chat's 1,000 terms."""
    vocabulary = found.vectorizer.vocabulary_
    return np.fromiter(map(vocabulary.get, terms, repeat(-1)), dtype=np.intp, count=len(terms))


def _columns(terms: Mapping[str, float], found: Pool) -> tuple[np.ndarray, np.ndarray]:
    """The pool's columns of the terms it knows, and their weights."""
    columns = _lookup(list(terms), found)
    known = columns >= 0
    return columns[known], _values(terms)[known]


def _vector(terms: Mapping[str, float], found: Pool) -> np.ndarray:
    vector = np.zeros(len(found.vectorizer.vocabulary_))
    columns, weights = _columns(terms, found)
    vector[columns] = weights
    return vector


def scores(model: Model, found: Pool) -> np.ndarray:
    """The model's score of every paper of the pool: above 0, on the chat's side. A model
    learnt with sentence vectors, used on a pool without them (the model was removed), scores
    by its words alone."""
    words: np.ndarray = np.asarray(found.matrix @ _vector(model.weights, found)).ravel()
    if model.dense is not None and found.dense is not None:
        # einsum's own loop, not BLAS: a digest run does this once a chat, and waking
        # BLAS's second thread for a product this small cost more than the product (5 ms
        # against 0.3 ms a chat on a busy 2-core machine).
        weights = np.asarray(model.dense, dtype=np.float32)
        words = words + np.einsum("ij,j->i", found.dense, weights)
    return words + model.bias


def because(model: Model, found: Pool, paper_ids: Sequence[int]) -> list[Anchor | None]:
    """For each paper, the one the chat learnt from that it resembles most: the anchor
    whose heaviest terms weigh most in the paper's tf-idf (the first of equals)."""
    if not model.anchors:
        return [None] * len(paper_ids)
    # Every anchor's terms in one lookup, each marked with its anchor's number.
    columns = _lookup([term for anchor in model.anchors for term in anchor.terms], found)
    weights = np.concatenate([_values(anchor.terms) for anchor in model.anchors])
    owner = np.repeat(np.arange(len(model.anchors)), [len(a.terms) for a in model.anchors])
    known = columns >= 0
    columns, weights, owner = columns[known], weights[known], owner[known]
    found_anchors: list[Anchor | None] = []
    for paper_id in paper_ids:
        row = found.row.get(paper_id)
        if row is None:
            found_anchors.append(None)
            continue
        paper = np.zeros(len(found.vectorizer.vocabulary_))
        start, end = found.matrix.indptr[row], found.matrix.indptr[row + 1]
        paper[found.matrix.indices[start:end]] = found.matrix.data[start:end]
        closeness = np.bincount(owner, paper[columns] * weights, len(model.anchors))
        found_anchors.append(model.anchors[int(np.argmax(closeness))])
    return found_anchors


def similar(
    found: Pool, text: Text, paper_id: int, limit: int, vector: np.ndarray | None = None
) -> list[int]:
    """The pool's papers nearest to a paper (given by its analysed text, and its sentence
    vector if known: it need not be in the pool), nearest first: by the cosine of their
    tf-idf, averaged with that of their sentence vectors where the pool has them."""
    closeness = np.asarray((found.matrix @ found.vectors([text]).T).todense()).ravel()
    if vector is not None and found.dense is not None:
        closeness = (closeness + found.dense @ vector) / 2
    order = [
        n
        for n in np.argsort(-closeness, kind="stable")
        if closeness[n] > 0 and found.ids[n] != paper_id
    ]
    return [found.ids[n] for n in order[:limit]]
