"""The primitives the previz vocabulary is drawn with: each shape (:mod:`.set_shapes`,
:mod:`.prop_shapes`) is a short list of flat primitives in the unit square of the thing's box
(``u`` left→right, ``v`` top→bottom), filled with a colour role that :mod:`.props` turns into a
colour of the frame's palette.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FLAME", "Op", "arc", "columns", "line", "oval", "pie", "poly", "rect", "rows", "scaled",
    "wheels",
]  # fmt: skip

OpKind = Literal["rect", "poly", "ellipse", "line", "arc", "pie"]


@dataclass(frozen=True, slots=True)
class Op:
    """One primitive: ``points`` are (u, v) pairs (two corners for rect, ellipse, arc, pie);
    ``width`` is a line's width as a share of the box's shorter side; ``angles`` bound an arc
    or pie in degrees (Pillow's convention: clockwise from three o'clock)."""

    kind: OpKind
    points: tuple[tuple[float, float], ...]
    role: str
    width: float = 0.0
    angles: tuple[float, float] = (0.0, 360.0)


def rect(u0: float, v0: float, u1: float, v1: float, role: str) -> Op:
    return Op("rect", ((u0, v0), (u1, v1)), role)


def oval(u0: float, v0: float, u1: float, v1: float, role: str) -> Op:
    return Op("ellipse", ((u0, v0), (u1, v1)), role)


def poly(role: str, *points: tuple[float, float]) -> Op:
    return Op("poly", points, role)


def line(role: str, width: float, *points: tuple[float, float]) -> Op:
    return Op("line", points, role, width)


def arc(u0: float, v0: float, u1: float, v1: float, role: str, width: float,
         start: float = 180, end: float = 360) -> Op:  # fmt: skip
    return Op("arc", ((u0, v0), (u1, v1)), role, width, (start, end))


def pie(u0: float, v0: float, u1: float, v1: float, role: str, start: float,
         end: float) -> Op:  # fmt: skip
    return Op("pie", ((u0, v0), (u1, v1)), role, 0.0, (start, end))


def wheels(*centres: float, top: float = 0.64, role: str = "black") -> tuple[Op, ...]:
    size = 1 - top
    ops: list[Op] = []
    for u in centres:
        ops.append(oval(u - size * 0.3, top, u + size * 0.3, 1.0, role))
        ops.append(
            oval(u - size * 0.12, top + size * 0.38, u + size * 0.12, 1 - size * 0.38, "metal")
        )
    return tuple(ops)


def rows(u0: float, u1: float, v0: float, v1: float, count: int, role: str,
          fill: float = 0.5) -> tuple[Op, ...]:  # fmt: skip
    step = (v1 - v0) / count
    return tuple(rect(u0, v0 + i * step, u1, v0 + (i + fill) * step, role) for i in range(count))


def columns(u0: float, u1: float, v0: float, v1: float, count: int, role: str,
             fill: float = 0.5) -> tuple[Op, ...]:  # fmt: skip
    step = (u1 - u0) / count
    return tuple(rect(u0 + i * step, v0, u0 + (i + fill) * step, v1, role) for i in range(count))


FLAME = (poly("flame", (0.25, 0.95), (0.32, 0.35), (0.44, 0.6), (0.55, 0.0), (0.66, 0.5),
             (0.75, 0.95)),
          poly("light", (0.4, 0.95), (0.47, 0.55), (0.55, 0.35), (0.62, 0.95)))  # fmt: skip


def scaled(ops: tuple[Op, ...], u0: float, v0: float, u1: float, v1: float) -> tuple[Op, ...]:
    """``ops`` squeezed into the sub-box (u0, v0)-(u1, v1)."""
    return tuple(
        Op(op.kind, tuple((u0 + u * (u1 - u0), v0 + v * (v1 - v0)) for u, v in op.points),
           op.role, op.width, op.angles)
        for op in ops
    )  # fmt: skip
