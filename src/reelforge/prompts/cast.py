"""Who is in a piece of storyboard text: every way a storyboard names its characters.

A character is named by any of these forms of its profile's name, matched as words
(:func:`reelforge.prompts.characters.words`: any case, accents removed, possessives split off):

- its full name (``Inspector Mara Vell``), and the name without its title (``Mara Vell``);
- its first name and its surname alone (``Mara``, ``Vell``), for a name of two words or more;
- a nickname in quotes (``Tobias "Toby" Kwan`` -> ``Toby``, ``Toby Kwan``, and ``Tobias Kwan``);
- a leading title with the surname (``Inspector Vell``) or with "the" (``the inspector``);
- each of the profile's ``aliases``.

A form that several characters share ("Vell" for two Vells, "the inspector" for two inspectors)
names none of them; a full name always names its own character. A form made only of pronouns or
articles is never a name, so a pronoun alone adds no one. Where forms overlap in the text, the
longest wins ("Mara Vell" is one mention, not "Mara" and "Vell").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reelforge.wording import Phrases, words

__all__ = ["TITLES", "Cast", "CastMatch"]

#: Words that, leading a name, are a title ("Inspector Mara Vell").
TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "doctor",
        "prof",
        "professor",
        "sir",
        "dame",
        "lord",
        "lady",
        "captain",
        "capt",
        "commander",
        "colonel",
        "general",
        "major",
        "lieutenant",
        "lt",
        "sergeant",
        "sgt",
        "officer",
        "detective",
        "inspector",
        "constable",
        "chief",
        "agent",
        "father",
        "mother",
        "sister",
        "brother",
        "reverend",
        "rev",
        "king",
        "queen",
        "prince",
        "princess",
        "duke",
        "duchess",
        "count",
        "countess",
        "baron",
        "baroness",
        "judge",
        "mayor",
        "senator",
        "president",
        "admiral",
        "private",
        "corporal",
        "marshal",
        "sheriff",
        "deputy",
        "nurse",
        "master",
        "mistress",
        "madam",
    ]
)
#: Forms made only of these are never names.
_NOT_NAMES = frozenset(
    [
        "he",
        "she",
        "they",
        "it",
        "him",
        "her",
        "them",
        "his",
        "hers",
        "its",
        "their",
        "theirs",
        "himself",
        "herself",
        "themselves",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "us",
        "our",
        "ours",
        "you",
        "your",
        "yours",
        "one",
        "someone",
        "somebody",
        "everyone",
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "s",
    ]
)
# A nickname: in double quotes of any kind, or in single quotes that stand apart from words
# (so the apostrophe of "O'Brien" or "Mara's" opens none).
_DOUBLE = '"\u201c\u201d\u201e\u00ab\u00bb'
_SINGLE_OPEN, _SINGLE_CLOSE = "'\u2018", "'\u2019"
_QUOTED = re.compile(
    f"[{_DOUBLE}]([^{_DOUBLE}]+)[{_DOUBLE}]"
    f"|(?:^|\\s)[{_SINGLE_OPEN}]([^{_SINGLE_OPEN}\u2019]+)[{_SINGLE_CLOSE}](?=\\s|$)"
)


@dataclass(frozen=True, slots=True)
class CastMatch:
    """One character found in a frame: which, by which form, and that form as words."""

    index: int
    matched_by: str
    form: str


@dataclass(frozen=True, slots=True)
class _Form:
    words: tuple[str, ...]
    matched_by: str


def _forms(name: str, aliases: Sequence[str]) -> list[_Form]:
    nicknames = [(m.group(1) or m.group(2)).strip() for m in _QUOTED.finditer(name)]
    plain = _QUOTED.sub(" ", name)
    full = words(name)
    bare = words(plain)
    forms = [_Form(full, "name")]
    titled = len(bare) > 1 and bare[0] in TITLES
    given = bare[1:] if titled else bare
    if bare != full:
        forms.append(_Form(bare, "name"))
    if titled:
        forms.append(_Form(given, "name"))
        forms.append(_Form((bare[0], given[-1]), "title"))
        forms.append(_Form(("the", bare[0]), "title"))
    if len(given) > 1:
        forms.append(_Form(given[:1], "first name"))
        forms.append(_Form(given[-1:], "surname"))
    for nickname in nicknames:
        forms.append(_Form(words(nickname), "nickname"))
        if len(given) > 1:
            forms.append(_Form((*words(nickname), given[-1]), "nickname"))
    forms.extend(_Form(words(alias), "alias") for alias in aliases)
    return [f for f in forms if f.words and not set(f.words) <= _NOT_NAMES]


class Cast:
    """The characters of a storyboard, and the forms that name each of them unambiguously."""

    def __init__(self, people: Sequence[tuple[str, Sequence[str]]]) -> None:
        """``people``: each character's name and aliases, in the order matches are reported."""
        owners: dict[tuple[str, ...], set[int]] = {}
        per_person = [_forms(name, aliases) for name, aliases in people]
        for index, forms in enumerate(per_person):
            for form in forms:
                owners.setdefault(form.words, set()).add(index)
        self._forms: list[tuple[tuple[str, ...], int, str]] = []
        for index, forms in enumerate(per_person):
            own_name = words(people[index][0])
            kept: set[tuple[str, ...]] = set()
            for form in forms:
                unique = owners[form.words] == {index}
                if form.words in kept or not (unique or form.words == own_name):
                    continue
                kept.add(form.words)
                self._forms.append((form.words, index, form.matched_by))
        self._phrases = Phrases([form for form, _, _ in self._forms])

    def resolve(self, name: str) -> int | None:
        """The one character ``name`` names (any of its forms), or None."""
        wanted = words(name)
        found = {index for form, index, _ in self._forms if form == wanted}
        return found.pop() if len(found) == 1 else None

    def find(self, texts: Iterable[str]) -> list[CastMatch]:
        """The characters ``texts`` name, in the cast's order, each with its best form found."""
        first: dict[int, CastMatch] = {}
        for text in texts:
            for form_index in self._phrases.longest_mentions(words(text)):
                form, index, matched_by = self._forms[form_index]
                match = CastMatch(index, matched_by, " ".join(form))
                if index not in first or _rank(match) < _rank(first[index]):
                    first[index] = match
        return [first[index] for index in sorted(first)]


def _rank(match: CastMatch) -> int:
    order = ("name", "nickname", "alias", "title", "first name", "surname")
    return order.index(match.matched_by)
