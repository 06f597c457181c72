"""Blocking a previz shot: where the cast stands, which way each figure faces, and what a
close shot frames, read from the camera notes and the description.

- Over-the-shoulder: "Over Tomas's shoulder we see Mara" puts Tomas in the foreground, seen
  from behind in a bottom corner, and Mara facing the camera across the frame. Without a name
  the first of the cast is the shoulder and the second the subject.
- Close-ups frame what the words name: a face (the default), hands ("close-up of Mara's
  hands"), or a prop in hands ("close-up on the letter"); hands hold the frame's prop in front
  of the chest.
- Two-shots, groups and wide shots line the cast up; high and low angles shrink or grow them.

Each figure is drawn from its character's signature (colours, hair, age, accessories) with
the expression the description gives them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.figures import Box, Figure, Pose
from reelforge.providers.local.looks import expression_for, look_from
from reelforge.providers.local.palette import DEFAULT_HAIR, figure_colours
from reelforge.providers.local.vocabulary import Thing, things_named

__all__ = ["CloseFocus", "close_focus", "perch_cast", "place_cast", "shoulder_of"]

CloseFocus = Literal["face", "hands", "prop"]

_MAX_FIGURES = 6
_OLD_HAIR = (178, 178, 176)
_SHOULDER = re.compile(r"over\s+(?:the\s+)?([\w-]+?)(?:'s|\u2019s|s')\s+shoulder", re.IGNORECASE)
_WE_SEE = re.compile(r"\b(?:we\s+see|see|on|at|towards?)\s+([\w-]+)", re.IGNORECASE)
_CLOSE = re.compile(
    r"(?:close[\s-]*up|closeup|\bx?cu\b|\becu\b|insert|macro)\s*(?:shot\s*)?(?:on|of|at)?\s+"
    r"((?:[\w'\u2019-]+\s*){1,5})",
    re.IGNORECASE,
)
_PERCH = re.compile(r"\b(?:from|on|atop|up)\s+(?:top\s+of\s+)?((?:[\w'-]+\s*){1,3})", re.I)
_HANDS = re.compile(r"\b(?:hands?|fingers|palms?|grip)\b")
_FACE = re.compile(r"\b(?:face|eyes|expression|smile|tears|lips)\b")


@dataclass(frozen=True, slots=True)
class _Stage:
    width: int
    height: int
    horizon: float
    look: float  # figure scale for the camera angle
    description: str
    alone: bool


def shoulder_of(brief: SceneBrief) -> str | None:
    """The name whose shoulder an over-the-shoulder shot looks over, if the words say."""
    found = _SHOULDER.search(f"{brief.description} {brief.camera_notes}")
    return None if found is None else found[1]


def close_focus(brief: SceneBrief) -> tuple[CloseFocus, str | None]:
    """What a close-up frames (face, hands or a prop), and whose, from the words after
    "close-up on/of" in the description or camera notes."""
    for text in (brief.description, brief.camera_notes):
        found = _CLOSE.search(text)
        if found is None:
            continue
        phrase = found[1].lower()
        owner = next((c.name for c in brief.characters if _names(c.name, phrase)), None)
        if _HANDS.search(phrase):
            return "hands", owner
        if _FACE.search(phrase) or owner is not None:
            return "face", owner
        if any(thing.place == "held" for thing in things_named(phrase)):
            return "prop", owner
    return "face", None


def place_cast(
    brief: SceneBrief, framing: str, angle: str, size: tuple[int, int], horizon: float,
    rng: random.Random,
) -> list[Figure]:  # fmt: skip
    """Figures for the cast in drawing order (back to front), sized and placed for the shot."""
    cast = brief.characters
    if not cast:
        return []
    width, height = size
    look = 1.12 if angle == "low" else 0.88 if angle in ("high", "overhead") else 1.0
    stage = _Stage(width, height, horizon, look, brief.description, len(cast) == 1)
    if framing in ("close_up", "extreme_close_up"):
        return _close(brief, stage, extreme=framing == "extreme_close_up", rng=rng)
    if framing == "over_the_shoulder":
        return _over_shoulder(brief, stage, rng)
    drawn = cast[:2] if framing == "two_shot" else cast[:_MAX_FIGURES]
    count = len(drawn)
    jitter = width * 0.02
    if framing in ("wide", "extreme_wide"):
        extreme = framing == "extreme_wide"
        h = min(height * (0.13 if extreme else 0.26), width * 0.8 / count / 0.4) * look
        feet = horizon + (height - horizon) * 0.55 if horizon < height * 0.9 else height * 0.96
        centre, spread = width * rng.choice((0.38, 0.5, 0.62)), h * 0.45
        return [
            _figure(c, stage, centre + (i - (count - 1) / 2) * spread
                    + rng.uniform(-jitter, jitter), feet - h + rng.uniform(-h, h) * 0.05, h)
            for i, c in enumerate(drawn)
        ]  # fmt: skip
    if framing == "full":
        h = min(height * 0.8, width * 0.9 / count / 0.36) * look
        top, step = height * 0.93 - h, width / (count + 1)
    else:  # medium and two-shot: cut at the waist
        h = min(height * 1.35, width * 0.85 / count / 0.3) * look
        top, step = height * 0.15, width / (count + 1)
    return [
        _figure(c, stage, step * (i + 1) + rng.uniform(-jitter, jitter), top, h)
        for i, c in enumerate(drawn)
    ]


def perch_cast(
    figures: list[Figure], description: str, placed: Sequence[tuple[Thing, Box]], height: int
) -> list[Figure]:
    """In a wide shot, a figure the words put on a far set ("Mara watches from the lighthouse
    gallery") stands on it, near its top and at its scale, rather than on the ground."""
    far = {thing.name: (thing, box) for thing, box in placed if thing.place == "background"}
    moved = list(figures)
    for sentence in re.split(r"(?<=[.!?;])\s+", description):
        for found in _PERCH.finditer(sentence):
            on = [t.name for t in things_named(found[1]) if t.name in far]
            if not on:
                continue
            thing, (x0, y0, x1, y1) = far[on[0]]
            for index, figure in enumerate(moved):
                if _names(figure.label, sentence.lower()) or len(moved) == 1:
                    # At its scale, but never below a readable size: a storyboard cheats.
                    h = max(height * 0.045, (y1 - y0) * 1.7 / thing.metres)
                    feet = y0 + (y1 - y0) * 0.2
                    cx = x0 + (x1 - x0) * 0.85
                    moved[index] = replace(figure, cx=cx, top=feet - h, height=h)
    return moved


def _close(brief: SceneBrief, stage: _Stage, *, extreme: bool, rng: random.Random) -> list[Figure]:
    width, height = stage.width, stage.height
    focus, owner = close_focus(brief)
    character = _named(brief.characters, owner) or brief.characters[0]
    if focus in ("hands", "prop"):
        # Chest to waist: the hands, together in front, at the middle of the frame.
        h = min(height * (4.2 if extreme else 3.2), width * 0.85 / 0.25)
        top = height * 0.55 - h * 0.4
        return [_figure(character, stage, width * 0.5, top, h, pose="holding")]
    h = min(height * (6.5 if extreme else 3.4), width * (0.9 if extreme else 0.55) / 0.112)
    cx = width * rng.choice((0.42, 0.5, 0.58))
    return [_figure(character, stage, cx, height * (-0.04 if extreme else 0.1), h * stage.look)]


def _over_shoulder(brief: SceneBrief, stage: _Stage, rng: random.Random) -> list[Figure]:
    width, height = stage.width, stage.height
    cast = brief.characters
    over_name = shoulder_of(brief)
    over = _named(cast, over_name)
    others = [c for c in cast if c is not over]
    if over is None and over_name is None and len(cast) > 1:
        over, others = cast[0], list(cast[1:])
    seen = _WE_SEE.findall(brief.description)
    subject = next((c for name in seen for c in others if _names(c.name, name.lower())), None)
    subject = subject or (others[0] if others else None)
    side = rng.choice((-1.0, 1.0))
    people = []
    if subject is not None:
        h = min(height * 2.0, width * 0.3 / 0.112)
        cx = width * (0.5 - side * 0.17) + rng.uniform(-1.0, 1.0) * width * 0.02
        people.append(_figure(subject, stage, cx, height * 0.16, h * stage.look))
    shoulder = over or (CharacterBrief(over_name) if over_name else None)
    if shoulder is not None:
        h = min(height * 2.8, width * 0.45 / 0.112)
        people.append(
            _figure(shoulder, stage, width * (0.5 + side * 0.36), height * 0.35, h, back=True)
        )
    return people


def _figure(
    character: CharacterBrief,
    stage: _Stage,
    cx: float,
    top: float,
    h: float,
    *,
    back: bool = False,
    pose: Pose = "standing",
) -> Figure:
    colours = figure_colours(character.name, character.visual_signature)
    look = look_from(character.visual_signature)
    if look.old and colours.hair == DEFAULT_HAIR:
        colours = type(colours)(colours.body, _OLD_HAIR, colours.accent,
                                colours.long_garment, colours.bald)  # fmt: skip
    expression = expression_for(character.name, stage.description, alone=stage.alone)
    return Figure(
        cx, top, h, colours, character.name, back_view=back, shade=0.45 * back, look=look,
        expression=expression, pose=pose,
    )  # fmt: skip


def _named(cast: Sequence[CharacterBrief], name: str | None) -> CharacterBrief | None:
    if not name:
        return None
    return next((c for c in cast if _names(c.name, name.lower())), None)


def _names(full_name: str, text: str) -> bool:
    """Whether ``text`` (lower case) names the character by any word of their name."""
    return any(
        re.search(rf"\b{re.escape(part)}\b", text)
        for part in full_name.lower().split()
        if len(part) > 1
    )
