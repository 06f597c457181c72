"""Who is in a frame: every form of a character's name finds the character, nothing else does."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelforge.errors import InvalidInput
from reelforge.features.keyframes.prompting import FramePrompt, frame_prompts
from reelforge.features.keyframes.schemas import CharacterProfile, StoryboardFrame
from reelforge.prompts.cast import TITLES
from reelforge.prompts.library import BUNDLED_TEMPLATES
from reelforge.prompts.template import PromptTemplate, parse_template

_FILLER = [
    "walks",
    "along",
    "the",
    "harbour",
    "in",
    "rain",
    "she",
    "turns",
    "away",
    "he",
    "waits",
    "they",
    "run",
    "past",
    "a",
    "lamp",
    "glows",
    "over",
    "the",
    "water",
    "while",
    "someone",
    "watches",
    "from",
    "the",
    "pier",
    "at",
    "dusk",
    "and",
    "it",
    "is",
    "cold",
]


def _template() -> PromptTemplate:
    path = BUNDLED_TEMPLATES / "keyframes.toml"
    return parse_template("keyframes", path.read_text(encoding="utf-8"), source=path)


def _prompts(texts: list[str], profiles: list[CharacterProfile]) -> list[FramePrompt]:
    frames = [StoryboardFrame(frame_id=f"F{i}", description=t) for i, t in enumerate(texts)]
    return frame_prompts(frames, profiles, _template(), aspect_ratio="16:9")


def test_a_storyboard_names_each_character_three_ways_and_every_frame_finds_them() -> None:
    profiles = [
        CharacterProfile(name="Inspector Mara Vell", visual_signature="grey trench, red scarf"),
        CharacterProfile(name='Tobias "Toby" Kwan', visual_signature="round glasses"),
        CharacterProfile(name="Old Tom", visual_signature="oil lamp", aliases=["the lamplighter"]),
        CharacterProfile(name="Zoë Vell", visual_signature="yellow raincoat"),
    ]
    texts = {
        "Mara's gloved hand on the rail.": [("Inspector Mara Vell", "first name")],
        "MARA VELL draws her coat close.": [("Inspector Mara Vell", "name")],
        "The inspector waits; Toby hurries past.": [
            ("Inspector Mara Vell", "title"),
            ('Tobias "Toby" Kwan', "nickname"),
        ],
        "Inspector Vell and tobias kwan argue.": [
            ("Inspector Mara Vell", "title"),
            ('Tobias "Toby" Kwan', "name"),
        ],
        "Kwan's notebook falls.": [('Tobias "Toby" Kwan', "surname")],
        "OLD TOM's lamp flickers.": [("Old Tom", "name")],
        "The lamplighter climbs.": [("Old Tom", "alias")],
        "Zoe runs to Old-Tom.": [("Old Tom", "name"), ("Zoë Vell", "first name")],
        # Two Vells: the surname alone names neither; a pronoun names no one.
        "Vell looks up. She turns away.": [],
    }
    prompts = _prompts(list(texts), profiles)
    signatures = {p.name: p.visual_signature for p in profiles}
    for prompt, expected in zip(prompts, texts.values(), strict=True):
        got = [(m["name"], m["matched_by"]) for m in prompt.cast()]
        assert got == expected, prompt.frame_id
        for name, _ in expected:
            assert signatures[name] in prompt.prompt
        for name in set(signatures) - {name for name, _ in expected}:
            assert signatures[name] not in prompt.prompt


def test_a_frame_lists_characters_by_any_name_or_brings_its_own() -> None:
    profiles = [CharacterProfile(name='Tobias "Toby" Kwan', visual_signature="round glasses")]
    frame = StoryboardFrame.model_validate(
        {
            "frame_id": "F1",
            "description": "Seen from behind, two figures on the sea wall.",
            "characters": ["toby", {"name": "The Gull", "visual_signature": "one white gull"}],
        }
    )
    (prompt,) = frame_prompts([frame], profiles, _template(), aspect_ratio="16:9")
    assert prompt.cast() == [
        {"name": 'Tobias "Toby" Kwan', "matched_by": "listed", "as_written": "toby"},
        {"name": "The Gull", "matched_by": "listed", "as_written": "The Gull"},
    ]
    assert "round glasses" in prompt.prompt
    assert "one white gull" in prompt.prompt
    unknown = frame.model_copy(update={"characters": ["Nobody"]})
    with pytest.raises(InvalidInput, match="names no one") as caught:
        frame_prompts([unknown], profiles, _template(), aspect_ratio="16:9")
    assert caught.value.details["frame_id"] == "F1"


# -- property: any form, any case, possessive or accented, finds exactly who is named --------

_WORD = st.from_regex(r"\A[A-Z][a-z]{3,7}\Z").filter(
    lambda w: w.lower() not in _FILLER and w.lower() not in TITLES
)


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    nickname: str
    alias: str
    title: str

    @property
    def profile(self) -> CharacterProfile:
        name = f'{self.title} {self.first} "{self.nickname}" {self.last}'
        return CharacterProfile(
            name=name, visual_signature=f"sig-{self.first.lower()}", aliases=[self.alias]
        )

    def forms(self) -> list[str]:
        return [
            f"{self.first} {self.last}",
            self.first,
            self.last,
            self.nickname,
            f"{self.nickname} {self.last}",
            f"{self.title} {self.last}",
            f"the {self.title}",
            self.alias,
        ]


@st.composite
def casts(draw: st.DrawFn) -> list[Person]:
    size = draw(st.integers(1, 4))
    names = draw(st.lists(_WORD, min_size=4 * size, max_size=4 * size, unique_by=str.lower))
    titles = draw(
        st.lists(st.sampled_from(sorted(TITLES)), min_size=size, max_size=size, unique=True)
    )
    return [
        Person(
            first=names[4 * i],
            last=names[4 * i + 1],
            nickname=names[4 * i + 2],
            alias=f"the {names[4 * i + 3].lower()}",
            title=titles[i].capitalize(),
        )
        for i in range(size)
    ]


def _written(form: str, style: int) -> str:
    if style == 1:
        return form.upper()
    if style == 2:
        return form.lower() + "'s"
    if style == 3:
        return form + "\u2019s"
    if style == 4:
        return form.replace("a", "\u00e0").replace("e", "\u00e9")
    return form


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_form_finds_its_character_and_no_frame_gains_one_it_does_not_name(
    data: st.DataObject,
) -> None:
    people = data.draw(casts())
    texts, named = [], []
    for _ in range(data.draw(st.integers(1, 4))):
        chosen = data.draw(st.sets(st.integers(0, len(people) - 1)))
        pieces = [data.draw(st.sampled_from(_FILLER))]
        for index in sorted(chosen):
            form = data.draw(st.sampled_from(people[index].forms()))
            pieces.append(_written(form, data.draw(st.integers(0, 4))))
            pieces.append(data.draw(st.sampled_from(_FILLER)) + ",")
        texts.append(" ".join(pieces))
        named.append(chosen)
    prompts = _prompts(texts, [p.profile for p in people])
    for prompt, chosen, text in zip(prompts, named, texts, strict=True):
        found = {[p.profile.name for p in people].index(c.name) for c in prompt.characters}
        assert found == chosen, text
        for index in chosen:
            assert f"sig-{people[index].first.lower()}" in prompt.prompt
