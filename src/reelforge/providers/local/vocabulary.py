"""The things a previz frame can draw, and which of them a frame's words name.

Each entry is a common noun of stories: a set (a building, a landscape feature, a vehicle,
furniture), a prop (something a character holds) or weather. Matching reads the description and
camera notes the way the keyframes prompts read character names (:mod:`reelforge.wording`): any
case, whole words, accents ignored, possessives (``the boat's``) and regular plurals (``boats``,
``benches``, ``ferries``, ``knives``) included. Nouns that are mostly verbs in screen directions
(watch, pan, crane, track, sign, wave) are left out on purpose, so "Mara watches" draws no
wristwatch and "pan right" no frying pan.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from reelforge.wording import Phrases, words

__all__ = ["VOCABULARY", "Kind", "Place", "Thing", "spellings", "things_named", "words"]

Kind = Literal["set", "prop", "weather"]
# Where a thing stands: on the horizon far off, on the ground near the action, on the water,
# on the back wall, in the sky, in a character's hand, or over the whole picture.
Place = Literal["background", "ground", "water", "wall", "sky", "held", "overlay"]


@dataclass(frozen=True, slots=True)
class Thing:
    """A drawable noun. ``metres`` is its rough real height (for scale against a 1.7 m
    figure), ``aspect`` its width over height, ``shape`` the drawing that paints it."""

    name: str
    kind: Kind
    place: Place
    shape: str
    metres: float
    aspect: float
    synonyms: tuple[str, ...] = ()


def _t(name: str, kind: Kind, place: Place, shape: str, metres: float, aspect: float,
       *synonyms: str) -> Thing:  # fmt: skip
    return Thing(name, kind, place, shape, metres, aspect, synonyms)


# fmt: off
VOCABULARY: tuple[Thing, ...] = (
    # Buildings and big sets, far off on the horizon.
    _t("lighthouse", "set", "background", "lighthouse", 30, 0.3),
    _t("castle", "set", "background", "castle", 25, 1.3, "fortress", "palace"),
    _t("tower", "set", "background", "tower", 30, 0.3, "clock tower", "bell tower"),
    _t("church", "set", "background", "church", 18, 0.9, "chapel", "cathedral"),
    _t("house", "set", "background", "house", 8, 1.2, "cottage", "home", "farmhouse"),
    _t("barn", "set", "background", "barn", 9, 1.3, "farm"),
    _t("skyscraper", "set", "background", "skyscraper", 120, 0.3, "office tower"),
    _t("windmill", "set", "background", "windmill", 15, 0.6, "mill"),
    _t("bridge", "set", "background", "bridge", 12, 3.5, "viaduct"),
    _t("mountain", "set", "background", "mountain", 900, 1.8, "peak", "volcano"),
    _t("hill", "set", "background", "hill", 60, 3.0, "hillside", "dune"),
    _t("cliff", "set", "background", "cliff", 40, 1.2, "bluff", "crag", "headland"),
    _t("waterfall", "set", "background", "waterfall", 25, 0.7, "cascade"),
    _t("tent", "set", "ground", "tent", 2.2, 1.4, "camp"),
    _t("hut", "set", "ground", "hut", 3.5, 1.2, "shack", "cabin"),
    # Near the action, on the ground.
    _t("stairs", "set", "ground", "stairs", 3.0, 1.0, "staircase", "stairway",
       "spiral stairs",
       "stair", "stairwell"),
    _t("ladder", "set", "ground", "ladder", 3.5, 0.35),
    _t("fence", "set", "ground", "fence", 1.2, 4.0, "railing", "gate"),
    _t("wall", "set", "ground", "brick_wall", 2.2, 3.0, "brick wall", "stone wall"),
    _t("tree", "set", "ground", "tree", 7.0, 0.7, "oak", "elm", "birch", "willow"),
    _t("pine", "set", "ground", "pine", 9.0, 0.45, "fir", "spruce"),
    _t("palm tree", "set", "ground", "palm", 8.0, 0.6, "palm"),
    _t("bush", "set", "ground", "bush", 1.2, 1.6, "shrub", "hedge"),
    _t("rock", "set", "ground", "rock", 1.4, 1.5, "boulder", "stone"),
    _t("flowers", "set", "ground", "flowers", 0.5, 1.8, "flower bed", "tulip", "rose bush"),
    _t("campfire", "set", "ground", "campfire", 1.0, 1.2, "bonfire", "fire"),
    _t("well", "set", "ground", "stone_well", 1.8, 0.9, "wishing well"),
    _t("street lamp", "set", "ground", "street_lamp", 4.5, 0.3, "streetlight", "lamppost",
       "lamp post"),
    _t("lamp", "set", "ground", "lamp", 1.6, 0.45, "lamplight", "lamp beam"),
    _t("pier", "set", "water", "pier", 1.6, 4.0, "jetty", "dock", "wharf", "quay"),
    # Vehicles.
    _t("boat", "set", "water", "boat", 1.7, 2.0, "rowboat", "dinghy", "canoe", "fishing boat"),
    _t("ship", "set", "water", "ship", 14, 2.2, "steamer", "ferry", "yacht", "sailboat"),
    _t("car", "set", "ground", "car", 1.5, 2.6, "taxi", "cab", "sedan", "jeep"),
    _t("truck", "set", "ground", "truck", 3.2, 2.2, "lorry", "van"),
    _t("bus", "set", "ground", "bus", 3.2, 3.2, "coach", "tram"),
    _t("train", "set", "ground", "train", 4.0, 4.0, "locomotive", "railway carriage"),
    _t("bicycle", "set", "ground", "bicycle", 1.1, 1.7, "bike"),
    _t("motorcycle", "set", "ground", "motorcycle", 1.2, 1.8, "motorbike", "scooter"),
    _t("wagon", "set", "ground", "wagon", 2.2, 1.8, "cart", "carriage"),
    _t("airplane", "set", "sky", "airplane", 6.0, 2.5, "plane", "aeroplane", "jet"),
    _t("helicopter", "set", "sky", "helicopter", 4.0, 2.0),
    # Furniture and rooms.
    _t("table", "set", "ground", "table", 0.8, 1.8, "desk", "counter", "bar table"),
    _t("chair", "set", "ground", "chair", 1.0, 0.55, "stool", "armchair", "throne"),
    _t("bench", "set", "ground", "bench", 0.9, 2.6, "pew"),
    _t("bed", "set", "ground", "bed", 0.9, 2.2, "cot", "bunk"),
    _t("sofa", "set", "ground", "sofa", 0.9, 2.3, "couch", "settee"),
    _t("bookshelf", "set", "ground", "bookshelf", 2.0, 0.8, "bookcase", "shelf", "shelves",
       "cupboard", "wardrobe"),
    _t("piano", "set", "ground", "piano", 1.3, 1.4),
    _t("fireplace", "set", "wall", "fireplace", 1.3, 1.2, "hearth"),
    _t("window", "set", "wall", "window", 1.3, 0.8, "windowpane"),
    _t("door", "set", "wall", "door", 2.1, 0.45, "doorway", "front door"),
    _t("clock", "set", "wall", "clock", 0.5, 1.0, "wall clock"),
    _t("mirror", "set", "wall", "mirror", 1.0, 0.7),
    _t("painting", "set", "wall", "painting", 0.8, 1.3, "picture frame", "poster", "canvas"),
    _t("barrel", "set", "ground", "barrel", 1.0, 0.7, "keg", "cask"),
    _t("crate", "set", "ground", "crate", 0.8, 1.1, "box", "footlocker"),
    # Sky and weather.
    _t("sun", "set", "sky", "sun", 1, 1.0, "sunrise", "sunset"),
    _t("moon", "set", "sky", "moon", 1, 1.0, "full moon", "crescent"),
    _t("stars", "set", "sky", "stars", 1, 3.0, "star", "starlight", "starry sky"),
    _t("clouds", "weather", "sky", "clouds", 1, 2.5, "cloud", "cloudy"),
    _t("birds", "set", "sky", "birds", 1, 2.0, "bird", "gull", "seagull", "crow"),
    _t("rainbow", "weather", "sky", "rainbow", 1, 2.0),
    _t("lightning", "weather", "sky", "lightning", 1, 0.5, "lightning bolt", "thunderbolt"),
    _t("storm", "weather", "overlay", "storm", 1, 1.0, "thunderstorm", "tempest", "gale"),
    _t("rain", "weather", "overlay", "rain", 1, 1.0, "rainy", "raining", "downpour", "drizzle",
       "rainfall"),
    _t("snow", "weather", "overlay", "snow", 1, 1.0, "snowy", "snowing", "snowfall",
       "blizzard", "snowflake"),
    _t("fog", "weather", "overlay", "fog", 1, 1.0, "mist", "foggy", "misty", "haze"),
    # Hand props.
    _t("lantern", "prop", "held", "lantern", 0.35, 0.6, "oil lamp", "torch"),
    _t("letter", "prop", "held", "letter", 0.22, 1.4, "envelope", "note", "postcard",
       "telegram"),
    _t("book", "prop", "held", "book", 0.24, 0.8, "diary", "journal", "notebook"),
    _t("candle", "prop", "held", "candle", 0.25, 0.35, "candlestick"),
    _t("cup", "prop", "held", "cup", 0.12, 1.0, "mug", "teacup"),
    _t("bottle", "prop", "held", "bottle", 0.3, 0.35, "flask", "wine bottle"),
    _t("phone", "prop", "held", "phone", 0.15, 0.5, "smartphone", "cellphone", "telephone"),
    _t("key", "prop", "held", "key", 0.1, 0.45, "keys"),
    _t("knife", "prop", "held", "knife", 0.25, 0.25, "dagger", "blade"),
    _t("sword", "prop", "held", "sword", 0.95, 0.22, "sabre", "saber"),
    _t("gun", "prop", "held", "gun", 0.18, 1.4, "pistol", "revolver"),
    _t("umbrella", "prop", "held", "umbrella", 0.9, 1.1, "parasol"),
    _t("bag", "prop", "held", "bag", 0.35, 1.0, "handbag", "satchel", "backpack"),
    _t("suitcase", "prop", "held", "suitcase", 0.45, 1.3, "luggage", "briefcase"),
    _t("map", "prop", "held", "map", 0.3, 1.4, "chart"),
    _t("bouquet", "prop", "held", "bouquet", 0.35, 0.8, "posy"),
    _t("coin", "prop", "held", "coin", 0.06, 1.0, "coins", "medallion"),
    _t("flag", "prop", "held", "flag", 1.2, 0.8, "banner"),
)
# fmt: on

_IRREGULAR = MappingProxyType({"knives": "knife", "shelves": "shelf", "leaves": "leaf"})


def _forms(word: str) -> tuple[str, ...]:
    """``word`` and its regular plurals (the possessive ``'s`` is a word of its own)."""
    forms = {word, f"{word}s"}
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(f"{word}es")
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        forms.add(f"{word[:-1]}ies")
    if word.endswith("f"):
        forms.add(f"{word[:-1]}ves")
    if word.endswith("fe"):
        forms.add(f"{word[:-2]}ves")
    return tuple(sorted(forms))


def _phrases() -> tuple[tuple[tuple[str, ...], ...], tuple[Thing, ...]]:
    phrases: list[tuple[str, ...]] = []
    owners: list[Thing] = []
    for thing in VOCABULARY:
        for spelling in (thing.name, *thing.synonyms):
            *head, last = words(spelling)
            for form in _forms(last):
                phrases.append((*head, form))
                owners.append(thing)
    return tuple(phrases), tuple(owners)


_PHRASES, _OWNERS = _phrases()
_INDEX = Phrases(_PHRASES)


def things_named(*texts: str) -> tuple[Thing, ...]:
    """The vocabulary's things that ``texts`` name, each once, in vocabulary order (which is
    also a sensible back-to-front drawing order)."""
    found: set[str] = set()
    for text in texts:
        tokens = tuple(_IRREGULAR.get(token, token) for token in words(text))
        found.update(_OWNERS[index].name for index in _INDEX.longest_mentions(tokens))
    return tuple(thing for thing in VOCABULARY if thing.name in found)


def spellings(item: Thing) -> frozenset[str]:
    """The single words (and their plurals) that name ``item``, for reading the words near it."""
    return frozenset(
        phrase[-1] for phrase, owner in zip(_PHRASES, _OWNERS, strict=True) if owner is item
    )
