"""Which characters a piece of storyboard text mentions, matched the way a reader would.

Names and text are compared as sequences of words: letters and digits, case-folded, accents
removed (``Zoë`` = ``zoe``), everything else a separator. So these all mention "Mara":
``Mara``, ``MARA``, ``Mara's`` (with a straight or a typographic apostrophe: the ``s`` is a
word of its own), ``Mara,``, ``(Mara)``, ``mara-lantern``; and "Old Tom" is found in
``old  Tom's`` or ``Old-Tom``. Whole words only: "Mara" is not in ``Tamara`` nor
``Maranatha``. Where one name is inside another at the same place ("Tom" in "Old Tom"), the
longer name wins.

Matching ignores case, so a name that is also a common word ("Will", "Rose") is found in
lowercase text as well; give such characters a fuller name in their profile.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = ["longest_mentions", "mentioned", "words"]

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> tuple[str, ...]:
    """``text`` as case-folded words without accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return tuple(_WORD.findall(bare.casefold()))


def mentioned(texts: Iterable[str], names: Sequence[str]) -> list[int]:
    """Indexes into ``names`` of the names that ``texts`` mention, in ``names`` order."""
    wanted = [words(name) for name in names]
    found: set[int] = set()
    for text in texts:
        found.update(longest_mentions(words(text), wanted))
    return sorted(found)


def longest_mentions(text: tuple[str, ...], wanted: Sequence[tuple[str, ...]]) -> set[int]:
    """Indexes into ``wanted`` of the word sequences found in ``text``, longest first where
    they overlap."""
    matches: list[tuple[int, int, int]] = []  # (length, start, name index)
    for index, name in enumerate(wanted):
        size = len(name)
        if size == 0:
            continue
        for start in range(len(text) - size + 1):
            if text[start : start + size] == name:
                matches.append((size, start, index))
    taken: set[int] = set()
    found: set[int] = set()
    for size, start, index in sorted(matches, key=lambda m: (-m[0], m[1])):
        span = set(range(start, start + size))
        if span & taken:
            continue
        taken |= span
        found.add(index)
    return found
