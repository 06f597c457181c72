"""Leonardo's pricing calculator on loopback: ``POST /pricing-calculator``.

Takes ``{"service", "serviceParams": {<service>: {...}}}`` and answers
``{"calculateProductionApiServiceCost": {"cost": <dollars>}}``, a pay-as-you-go account's unit.
The services and their parameters are those of Leonardo's API reference; the dollar figures are
the emulator's own (arbitrary, stable), not Leonardo's. The same figures are what its submit
answers say a job bills (``cost: {"amount", "unit": "DOLLARS"}``) and what its ledger records.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["clip_usd", "image_usd", "pricing_answer"]

ErrorAnswer = Callable[[int, str, str, str], JSONResponse]

_MEGAPIXEL_USD = Decimal("0.004")
_ALCHEMY_FACTOR = Decimal(2)
_CLIP_USD = {
    "MOTION_VIDEO_GENERATION": {
        "RESOLUTION_480": Decimal("0.10"),
        "RESOLUTION_720": Decimal("0.2"),
    },
    "VEO3_MOTION_VIDEO_GENERATION": {"RESOLUTION_720": Decimal("1.2")},
}
_SERVICES = frozenset({"IMAGE_GENERATION", *_CLIP_USD})


def pricing_answer(body: Any, error: ErrorAnswer) -> JSONResponse:
    """The calculator's answer for ``body``, or ``error(status, message, code, path)``."""
    service = body.get("service") if isinstance(body, dict) else None
    if service not in _SERVICES:
        return error(
            400, f"Unknown or unsupported service {service!r}", "validation-failed", "$.service"
        )
    params = (
        body.get("serviceParams", {}).get(service)
        if isinstance(body.get("serviceParams"), dict)
        else None
    )
    if not isinstance(params, dict):
        return error(
            400, f"serviceParams.{service} is required", "validation-failed", "$.serviceParams"
        )
    if service == "IMAGE_GENERATION":
        cost = _image_params_cost(params)
        if cost is None:
            return error(
                400,
                "imageWidth, imageHeight and numImages must be positive integers",
                "validation-failed",
                f"$.serviceParams.{service}",
            )
    else:
        cost = _CLIP_USD[service].get(str(params.get("resolution")))
        if cost is None:
            allowed = ", ".join(_CLIP_USD[service])
            return error(
                400, f"resolution must be one of {allowed}", "validation-failed", "$.resolution"
            )
    return JSONResponse({"calculateProductionApiServiceCost": {"cost": float(cost)}})


def image_usd(width: int, height: int, count: int, *, alchemy: bool = False) -> Decimal:
    """What ``count`` images of ``width`` x ``height`` bill here (per started megapixel)."""
    cost = _MEGAPIXEL_USD * math.ceil(width * height / 1_000_000) * count
    return cost * _ALCHEMY_FACTOR if alchemy else cost


def clip_usd(model: str, resolution: str | None) -> Decimal:
    """What one clip bills here: Veo 3 (and the others) at its one rate, Motion by resolution."""
    if model.startswith("MOTION2"):
        rates = _CLIP_USD["MOTION_VIDEO_GENERATION"]
        return rates.get(str(resolution), rates["RESOLUTION_480"])
    return _CLIP_USD["VEO3_MOTION_VIDEO_GENERATION"]["RESOLUTION_720"]


def _image_params_cost(params: dict[str, Any]) -> Decimal | None:
    sides = [params.get(name) for name in ("imageWidth", "imageHeight", "numImages")]
    numbers = [v for v in sides if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    if len(numbers) != len(sides):
        return None
    width, height, count = numbers
    return image_usd(width, height, count, alchemy=bool(params.get("alchemyMode")))
