"""Words as search sees them: the one tokenizer behind queries and the search vocabulary.

It mirrors SQLite FTS5's `unicode61 remove_diacritics 2` tokenizer: runs of letters and
digits, lowercased, diacritics removed ("Réseaux" -> "reseaux"). The full-text index also
stems words (porter); the vocabulary keeps the surface words, which can be shown to a user.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")

# The vocabulary only needs the words that typo correction may suggest: alphabetic words of
# 4 letters or more (shorter ones are never corrected) and not absurdly long.
VOCABULARY_MIN_LENGTH = 4
VOCABULARY_MAX_LENGTH = 40
# A whole word (no digit or letter on either side) made of letters only.
_VOCABULARY_WORD = re.compile(
    rf"(?<![^\W_])[^\W\d_]{{{VOCABULARY_MIN_LENGTH},{VOCABULARY_MAX_LENGTH}}}(?![^\W_])"
)


def fold(text: str) -> str:
    """Lowercase, with diacritics removed."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The words of a text in order, folded: "Graph-Based RÉSEAUX" -> graph, based, reseaux."""
    return _WORD.findall(fold(text))


def vocabulary_words(*texts: str) -> set[str]:
    """The distinct words of some texts that belong in the search vocabulary."""
    # One regex pass in C: this runs on every new paper at ingest.
    return {word for text in texts for word in _VOCABULARY_WORD.findall(fold(text))}


def belongs_in_vocabulary(word: str) -> bool:
    return VOCABULARY_MIN_LENGTH <= len(word) <= VOCABULARY_MAX_LENGTH and word.isalpha()
