"""Text as words, and which word sequences a text mentions: shared by the name matching of
prompts and the local studio's vocabulary.

Words are letters and digits, case-folded, accents removed (``Zoë`` = ``zoe``); everything else
separates them, so ``Mara's`` is ``mara``, ``s``. A mention is a whole run of words: "Mara" is
not in ``Tamara``. Where two mentions overlap, the longer wins ("street lamp", not "lamp").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["Phrases", "words"]

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> tuple[str, ...]:
    """``text`` as case-folded words without accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return tuple(_WORD.findall(bare.casefold()))


class Phrases:
    """Word sequences to look for, indexed by their first word."""

    def __init__(self, phrases: Sequence[tuple[str, ...]]) -> None:
        self._phrases = tuple(phrases)
        self._by_first: dict[str, list[int]] = {}
        for index, phrase in enumerate(self._phrases):
            if phrase:
                self._by_first.setdefault(phrase[0], []).append(index)

    def longest_mentions(self, tokens: Sequence[str]) -> set[int]:
        """Indexes of the phrases ``tokens`` mention, the longer winning where two overlap (and
        the earlier where two of one length do)."""
        tokens = tuple(tokens)
        hits = sorted(
            (-len(self._phrases[index]), start, index)
            for start, token in enumerate(tokens)
            for index in self._by_first.get(token, ())
            if tokens[start : start + len(self._phrases[index])] == self._phrases[index]
        )
        taken: set[int] = set()
        found: set[int] = set()
        for negative_size, start, index in hits:
            span = set(range(start, start - negative_size))
            if not span & taken:
                taken |= span
                found.add(index)
        return found
