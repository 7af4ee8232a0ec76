"""How a paper is recognised: its arXiv id when known, else its normalised title."""

from __future__ import annotations

import re
import unicodedata

_FOLD = re.compile(r"[\W_]+")


def title_key(title: str) -> str:
    """NFKC, casefolded, with every run of punctuation and whitespace folded to one space.

    Deliberately exact: near-identical titles ("Spiking" / "Simplifying Graph Convolutional
    Networks") are different papers, so no fuzzy similarity is involved.
    """
    folded = unicodedata.normalize("NFKC", title).casefold()
    # A title of punctuation alone ("???") would fold to nothing and collide with every other.
    return _FOLD.sub(" ", folded).strip() or " ".join(folded.split())
