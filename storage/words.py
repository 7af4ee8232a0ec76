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
# In ASCII text every character but a letter or digit separates words.
_ASCII_SEPARATORS = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def fold(text: str) -> str:
    """Lowercase, with diacritics removed."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The words of a text in order, folded: "Graph-Based RÉSEAUX" -> graph, based, reseaux."""
    folded = fold(text)
    if folded.isascii():  # most abstracts; twice as fast as the regex, on the ingest path
        return folded.translate(_ASCII_SEPARATORS).split()
    return _WORD.findall(folded)


def vocabulary_words(*texts: str) -> set[str]:
    """The distinct words of some texts that belong in the search vocabulary."""
    return {word for word in set(words(" ".join(texts))) if belongs_in_vocabulary(word)}


def belongs_in_vocabulary(word: str) -> bool:
    return VOCABULARY_MIN_LENGTH <= len(word) <= VOCABULARY_MAX_LENGTH and word.isalpha()
