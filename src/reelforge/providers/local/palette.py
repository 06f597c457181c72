"""Colour for previz frames: palettes from lighting moods, figure colours from visual signatures.

Both are plain keyword readers over free text, deliberately predictable: a storyboard artist
reviewing the frame should be able to guess why it is orange (``"golden hour"``) or why Mara's
figure is red (``"red scarf"``).
"""

from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "DEFAULT_HAIR",
    "MOOD_KEYWORDS",
    "FigureColours",
    "Palette",
    "Rgb",
    "colour_word",
    "figure_colours",
    "mix",
    "name_colour",
    "palette_for",
]

Rgb = tuple[int, int, int]
DEFAULT_HAIR: Rgb = (62, 44, 32)
LightKind = Literal["none", "sun", "moon", "glow"]


@dataclass(frozen=True, slots=True)
class Palette:
    """The colours of one lighting mood. ``light_height`` is the light's height in the sky
    (0 = on the horizon, 1 = top of frame); ``shade`` darkens figures toward ``ink``."""

    mood: str
    sky_top: Rgb
    sky_horizon: Rgb
    ground_far: Rgb
    ground_near: Rgb
    backdrop: Rgb
    ink: Rgb
    skin: Rgb
    light: Rgb
    light_kind: LightKind = "none"
    light_height: float = 0.5
    shade: float = 0.0
    windows: Rgb | None = None
    monochrome: bool = False
    caption_bg: Rgb = (24, 24, 28)
    caption_fg: Rgb = (238, 236, 230)
    default_setting: str = ""


# Columns: sky top, sky at the horizon, far ground, near ground, backdrop silhouettes, ink, skin,
# light; then the light's kind and height, figure shade, lit-window colour.
# fmt: off
_PALETTES: MappingProxyType[str, Palette] = MappingProxyType({
    "neutral": Palette("neutral", (170, 186, 202), (216, 220, 222), (150, 147, 138),
                       (112, 108, 100), (138, 148, 160), (38, 40, 46), (214, 190, 170),
                       (250, 248, 236)),
    "noir": Palette("noir", (28, 28, 32), (92, 92, 96), (58, 58, 60), (22, 22, 24),
                    (16, 16, 18), (8, 8, 10), (200, 200, 200), (240, 240, 228), "glow", 0.55,
                    0.3, (215, 212, 190), monochrome=True, default_setting="city"),
    "golden_hour": Palette("golden_hour", (246, 160, 92), (255, 218, 146), (160, 112, 64),
                           (92, 60, 34), (122, 72, 52), (52, 30, 20), (236, 184, 140),
                           (255, 240, 180), "sun", 0.1),
    "neon": Palette("neon", (18, 8, 40), (86, 22, 104), (38, 22, 58), (10, 6, 22),
                    (24, 14, 44), (4, 2, 10), (206, 160, 210), (0, 232, 255), "glow", 0.35,
                    0.35, (255, 64, 200), default_setting="city"),
    "dawn": Palette("dawn", (116, 128, 192), (250, 194, 180), (112, 112, 124), (70, 70, 86),
                    (92, 96, 132), (36, 34, 52), (232, 196, 184), (255, 228, 206), "sun", 0.2),
    "moonlit": Palette("moonlit", (8, 16, 44), (40, 60, 104), (28, 38, 58), (10, 14, 28),
                       (16, 24, 44), (4, 6, 14), (150, 164, 190), (232, 238, 255), "moon",
                       0.72, 0.45, (255, 208, 120)),
    "overcast": Palette("overcast", (146, 151, 156), (192, 194, 196), (112, 118, 110),
                        (80, 86, 80), (122, 128, 132), (40, 42, 44), (206, 190, 180),
                        (220, 222, 224)),
    "candlelit": Palette("candlelit", (34, 18, 10), (116, 62, 26), (74, 42, 20), (28, 14, 6),
                         (52, 28, 14), (16, 8, 4), (240, 176, 120), (255, 196, 104), "glow",
                         0.22, 0.3, (255, 180, 90), default_setting="interior"),
    "harsh_daylight": Palette("harsh_daylight", (36, 116, 230), (156, 204, 250),
                              (206, 190, 152), (164, 142, 100), (108, 138, 170), (30, 30, 34),
                              (226, 190, 160), (255, 255, 242), "sun", 0.86),
})
# fmt: on

# Checked in this order, so "neon-lit night" is neon and "golden sunset fog" is golden hour.
# fmt: off
MOOD_KEYWORDS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "noir": ("noir", "chiaroscuro", "shadowy", "venetian", "black and white", "monochrome"),
    "neon": ("neon", "cyberpunk", "synthwave", "fluorescent", "holographic", "led glow"),
    "candlelit": ("candle", "firelight", "fire light", "fireplace", "lantern", "torchlight",
                  "torch-lit", "torchlit", "hearth", "campfire", "oil lamp"),
    "golden_hour": ("golden", "sunset", "magic hour", "dusk", "late afternoon", "warm evening"),
    "dawn": ("dawn", "sunrise", "first light", "daybreak", "early morning"),
    "moonlit": ("moon", "night", "midnight", "starlit", "starry", "after dark"),
    "overcast": ("overcast", "cloudy", "grey", "gray", "gloomy", "rain", "fog", "mist",
                 "drizzle", "diffuse", "storm"),
    "harsh_daylight": ("harsh", "midday", "noon", "daylight", "bright sun", "high sun", "sunny",
                       "hard light", "scorching"),
})
# fmt: on


# Weather outranks the hour: a "stormy dusk" reads as a storm, not as a golden sunset.
_STORM_WORDS = ("storm", "thunder", "lightning", "tempest", "gale", "blizzard")


def palette_for(mood: str) -> Palette:
    """The palette of a free-text lighting mood; a neutral daylight palette if none matches."""
    text = mood.lower()
    if any(re.search(rf"(?<![a-z]){word}", text) for word in _STORM_WORDS):
        return _PALETTES["overcast"]
    for name, keywords in MOOD_KEYWORDS.items():
        if any(re.search(rf"(?<![a-z]){re.escape(k)}", text) for k in keywords):
            return _PALETTES[name]
    return _PALETTES["neutral"]


@dataclass(frozen=True, slots=True)
class FigureColours:
    """How a character's figure is painted: clothing, an optional accent, hair."""

    body: Rgb
    hair: Rgb
    accent: Rgb | None = None
    long_garment: bool = False
    bald: bool = False


# fmt: off
_COLOURS: MappingProxyType[str, Rgb] = MappingProxyType({
    "red": (196, 40, 40), "crimson": (170, 20, 50), "scarlet": (230, 36, 28),
    "maroon": (118, 24, 36), "burgundy": (120, 20, 44), "orange": (236, 122, 28),
    "amber": (240, 166, 30), "gold": (222, 178, 52), "golden": (222, 178, 52),
    "yellow": (240, 212, 52), "mustard": (204, 164, 36), "green": (52, 150, 70),
    "emerald": (20, 140, 96), "olive": (112, 118, 50), "lime": (150, 210, 60),
    "teal": (24, 128, 128), "cyan": (40, 200, 220), "turquoise": (56, 196, 184),
    "blue": (44, 90, 200), "navy": (26, 36, 96), "azure": (60, 140, 230),
    "cobalt": (20, 70, 170), "indigo": (60, 40, 130), "purple": (120, 50, 160),
    "violet": (140, 70, 200), "lavender": (180, 160, 220), "magenta": (210, 40, 170),
    "pink": (236, 140, 170), "rose": (210, 100, 120), "brown": (112, 72, 40),
    "tan": (200, 160, 110), "beige": (214, 196, 160), "khaki": (180, 168, 110),
    "black": (28, 28, 30), "white": (240, 240, 236), "grey": (128, 128, 132),
    "gray": (128, 128, 132), "silver": (196, 198, 204), "charcoal": (56, 58, 62),
    "ivory": (246, 240, 220), "cream": (240, 230, 200), "copper": (184, 104, 60),
    "bronze": (160, 110, 50), "blonde": (232, 204, 128), "blond": (232, 204, 128),
    "auburn": (150, 60, 30), "ginger": (200, 96, 40), "chestnut": (120, 60, 30),
    "brunette": (86, 56, 36), "platinum": (226, 224, 214), "raven": (20, 20, 26),
    "denim": (70, 100, 150), "rust": (170, 70, 30), "plum": (110, 40, 90),
})
# fmt: on
# fmt: off
_HAIR_WORDS = frozenset({
    "hair", "haired", "beard", "braid", "braids", "ponytail", "mane", "curls", "bob", "locks",
    "mohawk", "bun", "fringe", "moustache", "mustache",
})
_HAIR_ONLY = frozenset({"blonde", "blond", "auburn", "ginger", "brunette", "platinum", "raven"})
_ACCESSORIES = frozenset({
    "scarf", "tie", "hat", "cap", "bandana", "belt", "gloves", "necklace", "beret", "hood", "sash",
    "bow", "headband", "glasses", "goggles", "helmet", "backpack", "bag", "umbrella", "shoes",
    "boots", "collar",
})
_LONG = frozenset({
    "coat", "trench", "trenchcoat", "dress", "gown", "robe", "robes", "cloak", "cape", "kimono",
    "overcoat", "raincoat", "duster", "habit", "skirt",
})
_GARMENT_ENDINGS = (
    "jacket", "shirt", "suit", "coat", "sweater", "hoodie", "uniform", "vest", "jumper", "top",
    "armor", "armour", "trousers", "pants", "jeans", "overalls", "blouse", "tunic", "parka",
)
# fmt: on
_SHADES = MappingProxyType({"dark": 0.6, "deep": 0.7, "light": 1.35, "pale": 1.45, "bright": 1.15})


def figure_colours(name: str, visual_signature: str) -> FigureColours:
    """Figure colours from a visual signature such as ``"red scarf, silver hair, long coat"``.

    A colour followed within three words by a hair word colours the hair, by an accessory the
    accent, otherwise the clothing. Without a clothing colour the figure takes a stable colour
    hashed from the name, so a character keeps its colour from frame to frame.
    """
    text = visual_signature.lower()
    words = re.findall(r"[a-z]+", text)
    body: Rgb | None = None
    hair: Rgb | None = None
    accent: Rgb | None = None
    for clause in re.split(r"[,;.:/&+]|\band\b|\bwith\b", text):
        clause_words = re.findall(r"[a-z]+", clause)
        for index, word in enumerate(clause_words):
            if word not in _COLOURS:
                continue
            colour = _shaded(_COLOURS[word], clause_words[index - 1] if index else "")
            noun = _noun_after(clause_words[index + 1 : index + 4])
            if noun in _HAIR_WORDS or (not noun and word in _HAIR_ONLY):
                hair = hair or colour
            elif noun in _ACCESSORIES:
                accent = accent or colour
            elif body is None:
                body = colour
            else:
                accent = accent or colour
    return FigureColours(
        body=body or name_colour(name),
        hair=hair or DEFAULT_HAIR,
        accent=accent,
        long_garment=any(w in _LONG for w in words),
        bald="bald" in words or "shaved" in words,
    )


def _noun_after(following: list[str]) -> str:
    """The hair, accessory or garment word a colour describes ("" if another colour comes first)."""
    for word in following:
        if word in _COLOURS:
            return ""
        if word in _HAIR_WORDS or word in _ACCESSORIES or word in _LONG:
            return word
        if word.endswith(_GARMENT_ENDINGS):
            return word
    return ""


def name_colour(name: str) -> Rgb:
    """A stable, mid-saturated colour for a name (the same in every process and release)."""
    digest = hashlib.sha256(name.strip().lower().encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.55, 0.78)
    return (round(red * 255), round(green * 255), round(blue * 255))


def mix(a: Rgb, b: Rgb, t: float) -> Rgb:
    """``a`` moved a fraction ``t`` of the way to ``b``."""
    r = a[0] + (b[0] - a[0]) * t
    g = a[1] + (b[1] - a[1]) * t
    bl = a[2] + (b[2] - a[2]) * t
    return (round(r), round(g), round(bl))


def _shaded(colour: Rgb, modifier: str) -> Rgb:
    factor = _SHADES.get(modifier)
    if factor is None:
        return colour
    if factor < 1.0:
        return mix(colour, (0, 0, 0), 1.0 - factor)
    return mix(colour, (255, 255, 255), factor - 1.0)


def colour_word(word: str) -> Rgb | None:
    """The colour a single (case-folded) word names, as signatures use them, or None."""
    return _COLOURS.get(word)
