"""The drawings of the vocabulary's sky, weather and hand props. Weather scattered over the
picture (rain, snow, fog, a storm, stars) is drawn in :mod:`.props` from the frame's seed."""

from __future__ import annotations

from types import MappingProxyType

from reelforge.providers.local.shapes import (
    FLAME,
    Op,
    arc,
    line,
    oval,
    pie,
    poly,
    rect,
    scaled,
)

__all__ = ["PROP_SHAPES", "SCATTERED"]

# fmt: off
PROP_SHAPES: MappingProxyType[str, tuple[Op, ...]] = MappingProxyType({
    "sun": (oval(0, 0, 1, 1, "light"),),
    "moon": (oval(0, 0, 1, 1, "white"), oval(0.2, 0.25, 0.4, 0.45, "grey"),
             oval(0.55, 0.55, 0.7, 0.7, "grey"), oval(0.58, 0.2, 0.68, 0.3, "grey")),
    "clouds": (oval(0, 0.35, 0.5, 1, "cloud"), oval(0.22, 0, 0.75, 0.9, "cloud"),
               oval(0.5, 0.25, 1, 1, "cloud")),
    "birds": tuple(
        line("black", 0.03, (u - 0.07, v - 0.06), (u, v), (u + 0.07, v - 0.06))
        for u, v in ((0.1, 0.5), (0.3, 0.25), (0.5, 0.6), (0.68, 0.2), (0.9, 0.45))
    ),
    "rainbow": tuple(
        arc(0.05 * i, 0.1 * i, 1 - 0.05 * i, 2 - 0.1 * i, role, 0.1)
        for i, role in enumerate(("red", "flame", "yellow", "leaf", "water", "violet"))
    ),
    "lightning": (poly("yellow", (0.4, 0), (0.85, 0), (0.6, 0.38), (0.9, 0.38), (0.15, 1),
                     (0.42, 0.5), (0.12, 0.5)),),
    "lantern": (
        arc(0.25, 0, 0.75, 0.3, "metal", 0.06),
        poly("metal", (0.15, 0.2), (0.85, 0.2), (0.5, 0.06)),
        rect(0.2, 0.2, 0.8, 0.88, "light"), *scaled(FLAME, 0.35, 0.4, 0.65, 0.8),
        *(line("metal", 0.06, (u, 0.2), (u, 0.88)) for u in (0.22, 0.5, 0.78)),
        rect(0.12, 0.86, 0.88, 1, "metal"),
    ),
    "letter": (rect(0, 0, 1, 1, "paper"), line("grey", 0.03, (0, 0), (0.5, 0.56), (1, 0)),
               line("grey", 0.02, (0, 1), (0.4, 0.45)), line("grey", 0.02, (1, 1), (0.6, 0.45)),
               oval(0.4, 0.44, 0.6, 0.72, "red")),
    "book": (rect(0, 0, 1, 1, "accent"), rect(0.88, 0.03, 1, 0.97, "paper"),
             rect(0, 0, 0.12, 1, "darkwood"), rect(0.3, 0.25, 0.75, 0.4, "gold")),
    "candle": (rect(0.1, 0.9, 0.9, 1, "metal"), rect(0.3, 0.32, 0.7, 0.92, "white"),
               *scaled(FLAME, 0.3, 0.0, 0.7, 0.3)),
    "cup": (arc(0.55, 0.3, 1, 0.75, "white", 0.1, 270, 90),
            poly("white", (0.02, 0.12), (0.8, 0.12), (0.7, 1), (0.12, 1)),
            oval(0.02, 0.06, 0.8, 0.2, "darkwood")),
    "bottle": (rect(0.36, 0, 0.64, 0.24, "bottle"), poly("bottle", (0.1, 0.42), (0.9, 0.42),
                                                      (0.64, 0.2), (0.36, 0.2)),
               rect(0.1, 0.4, 0.9, 1, "bottle"), rect(0.1, 0.6, 0.9, 0.8, "paper")),
    "phone": (rect(0, 0, 1, 1, "black"), rect(0.1, 0.08, 0.9, 0.86, "glass"),
              oval(0.42, 0.89, 0.58, 0.97, "grey")),
    "key": (arc(0.05, 0, 0.95, 0.4, "gold", 0.25, 0, 360), rect(0.38, 0.38, 0.62, 1, "gold"),
            rect(0.6, 0.72, 0.9, 0.8, "gold"), rect(0.6, 0.86, 0.82, 0.94, "gold")),
    "knife": (poly("metal", (0.3, 0), (0.72, 0.12), (0.72, 0.58), (0.3, 0.58)),
              rect(0.22, 0.58, 0.78, 1, "darkwood")),
    "sword": (poly("metal", (0.5, 0), (0.66, 0.07), (0.66, 0.74), (0.34, 0.74), (0.34, 0.07)),
              rect(0, 0.74, 1, 0.8, "gold"), rect(0.38, 0.8, 0.62, 0.95, "darkwood"),
              oval(0.32, 0.93, 0.68, 1, "gold")),
    "gun": (rect(0.3, 0.02, 1, 0.3, "black"), rect(0.16, 0, 0.55, 0.45, "black"),
            poly("darkwood", (0.16, 0.4), (0.48, 0.4), (0.36, 1), (0.04, 1)),
            arc(0.42, 0.35, 0.62, 0.65, "black", 0.05, 0, 180)),
    "umbrella": (line("black", 0.05, (0.5, 0.45), (0.5, 0.9)),
                 arc(0.34, 0.8, 0.5, 1, "black", 0.05, 0, 180),
                 pie(0, 0, 1, 0.9, "accent", 180, 360),
                 *(line("black", 0.02, (0.5, 0), (u, 0.45)) for u in (0.2, 0.4, 0.6, 0.8))),
    "bag": (arc(0.22, 0, 0.78, 0.6, "darkwood", 0.08), rect(0, 0.3, 1, 1, "leather"),
            poly("darkwood", (0, 0.3), (1, 0.3), (0.9, 0.6), (0.1, 0.6)),
            rect(0.45, 0.55, 0.55, 0.65, "gold")),
    "suitcase": (arc(0.35, 0, 0.65, 0.36, "black", 0.08), rect(0, 0.18, 1, 1, "leather"),
                 line("darkwood", 0.05, (0.25, 0.18), (0.25, 1)),
                 line("darkwood", 0.05, (0.75, 0.18), (0.75, 1))),
    "map": (rect(0, 0, 1, 1, "paper"), *(line("grey", 0.02, (u, 0), (u, 1)) for u in (0.33, 0.66)),
            poly("leaf", (0.1, 0.2), (0.4, 0.1), (0.55, 0.4), (0.3, 0.7), (0.12, 0.55)),
            line("red", 0.04, (0.2, 0.8), (0.45, 0.55), (0.6, 0.65), (0.8, 0.3)),
            line("red", 0.05, (0.74, 0.22), (0.86, 0.38)),
            line("red", 0.05, (0.86, 0.22), (0.74, 0.38))),
    "bouquet": (poly("paper", (0.2, 0.45), (0.8, 0.45), (0.55, 1), (0.45, 1)),
                *(oval(u - 0.16, v - 0.14, u + 0.16, v + 0.14, role)
                  for u, v, role in ((0.3, 0.35, "red"), (0.7, 0.35, "yellow"), (0.5, 0.2, "white"),
                                     (0.5, 0.42, "violet")))),
    "coin": (oval(0, 0, 1, 1, "gold"), arc(0.18, 0.18, 0.82, 0.82, "darkwood", 0.04, 0, 360)),
    "flag": (line("wood", 0.06, (0.06, 0), (0.06, 1)),
             poly("red", (0.06, 0.02), (1, 0.08), (0.95, 0.42), (0.06, 0.38))),
})
# fmt: on

# Things drawn by scattering marks over the picture, from the frame's seed.
SCATTERED = frozenset({"storm", "rain", "snow", "fog", "stars"})
