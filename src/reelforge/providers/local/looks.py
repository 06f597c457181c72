"""How a previz figure looks beyond its colours: hair style, age cues, key accessories (from
the character's visual signature) and a simple expression (from the frame's words).

Signatures are short free text ("lighthouse keeper in her sixties, silver hair in a braid,
yellow oilskin coat, red scarf"); the words are matched whole, so "coat" in "raincoat" is
found through its own spelling list and "scarface" is no scarf.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Expression", "HairStyle", "Look", "expression_for", "look_from"]

HairStyle = Literal["short", "long", "braid", "ponytail", "bun", "curly", "bald"]
Expression = Literal["neutral", "smile", "fear", "anger"]

# Earliest listed wins when a signature names two styles ("long hair in a braid" is a braid).
_STYLES: tuple[tuple[HairStyle, str], ...] = (
    ("bald", r"bald|shaved head|shaven"),
    ("braid", r"braids?|braided|plait(?:s|ed)?"),
    ("ponytail", r"pony[\s-]*tail"),
    ("bun", r"\bbun\b|top[\s-]*knot|chignon"),
    ("curly", r"curl(?:s|y)|afro|frizzy|ringlets"),
    ("long", r"long[\s-]+(?:\w+[\s-]+)?hair|flowing hair|shoulder[\s-]*length|\bmane\b"),
)
_OLD = (
    r"sixties|seventies|eighties|elderly|\bold\b|\baged\b|grand(?:mother|father|ma|pa)|wrinkl"
    r"|veteran|retired|(?:grey|gray|white|silver)[\s-]*(?:hair|haired|beard)"
)
_YOUNG = r"\bchild\b|\bkid\b|\bboy\b|\bgirl\b|teen|\byoung\b|twenties|youth"
_GLASSES = r"glasses|spectacles|specs|monocle|sunglasses|goggles"
_SCARF = r"scarf|shawl|muffler|bandana|cravat"
_COAT = r"coat|oilskin|jacket|parka|cloak|duster|trench|blazer|anorak"
_HAT = r"\bhat\b|\bcap\b|beret|fedora|beanie|bonnet|helmet|sou'?wester"
_BEARD = r"beard|bearded|goatee|stubble"
_EXPRESSIONS: tuple[tuple[Expression, str], ...] = (
    ("fear", r"fear|afraid|terrif|scared|frighten|panic|horror|dread|gasps?|trembl|flinch"),
    ("anger", r"anger|angry|furious|rage|raging|shout|scowl|glare|snarl|fury|yell|livid"),
    ("smile", r"smil|grin|laugh|beam(?:s|ing)\b|delight|happy|joy|cheer"),
)


@dataclass(frozen=True, slots=True)
class Look:
    """A figure's non-colour features; the default is a plain adult with short hair."""

    hair_style: HairStyle = "short"
    old: bool = False
    young: bool = False
    glasses: bool = False
    scarf: bool = False
    coat: bool = False
    hat: bool = False
    beard: bool = False


def look_from(visual_signature: str) -> Look:
    """The look a visual signature describes."""
    text = visual_signature.lower()
    style: HairStyle = "short"
    for candidate, pattern in _STYLES:
        if re.search(pattern, text):
            style = candidate
            break
    return Look(
        hair_style=style,
        old=bool(re.search(_OLD, text)),
        young=bool(re.search(_YOUNG, text)) and not re.search(_OLD, text),
        glasses=bool(re.search(_GLASSES, text)),
        scarf=bool(re.search(_SCARF, text)),
        coat=bool(re.search(_COAT, text)),
        hat=bool(re.search(_HAT, text)),
        beard=bool(re.search(_BEARD, text)),
    )


def expression_for(name: str, description: str, *, alone: bool) -> Expression:
    """The expression the description gives ``name``: from the sentences that name them (or
    that say "her/his face"), or from the whole text when they are ``alone`` in the frame."""
    first = name.strip().split(" ")[0].lower()
    sentences = re.split(r"(?<=[.!?;:])\s+", description.lower())
    about = [s for s in sentences if first and re.search(rf"\b{re.escape(first)}\b", s)]
    if alone:
        about = about or sentences
    for sentence in about:
        for expression, pattern in _EXPRESSIONS:
            if re.search(pattern, sentence):
                return expression
    return "neutral"
