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

from collections.abc import Iterable, Sequence

from reelforge.wording import Phrases, words

__all__ = ["longest_mentions", "mentioned", "words"]


def mentioned(texts: Iterable[str], names: Sequence[str]) -> list[int]:
    """Indexes into ``names`` of the names that ``texts`` mention, in ``names`` order."""
    phrases = Phrases([words(name) for name in names])
    found: set[int] = set()
    for text in texts:
        found.update(phrases.longest_mentions(words(text)))
    return sorted(found)


def longest_mentions(text: tuple[str, ...], wanted: Sequence[tuple[str, ...]]) -> set[int]:
    """Indexes into ``wanted`` of the word sequences found in ``text``, longest first where
    they overlap."""
    return Phrases(wanted).longest_mentions(text)
