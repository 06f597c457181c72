"""Leonardo's pricing calculator on loopback: ``POST /pricing-calculator``.

Takes ``{"service", "serviceParams": {<service>: {...}}}`` and answers
``{"calculateProductionApiServiceCost": {"cost": <dollars>}}``, a pay-as-you-go account's unit.
The services and their parameters are those of Leonardo's API reference; the dollar figures are
the emulator's own (arbitrary, stable), not Leonardo's: a flat rate per image, one per clip by
model and resolution. The same figures are what its submit answers say a job bills (``cost:
{"amount", "unit": "DOLLARS"}``), what its ledger records, and the ``providers.leonardo.prices``
its environment gives Reelforge (:func:`configured_prices`), so that a job adopted after a crash,
settled at its estimate, is recorded at what was billed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["clip_usd", "configured_prices", "image_usd", "pricing_answer"]

ErrorAnswer = Callable[[int, str, str, str], JSONResponse]

_IMAGE_USD = Decimal("0.004")
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


def image_usd(count: int, *, alchemy: bool = False) -> Decimal:
    """What ``count`` images bill here, whatever their size."""
    cost = _IMAGE_USD * count
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
    return image_usd(numbers[2], alchemy=bool(params.get("alchemyMode")))


def configured_prices() -> str:
    """``providers.leonardo.prices`` at these rates (JSON, for an environment variable): per
    image, per Motion 2.0 clip at its default 480p, and per clip of the other models."""
    other = str(_CLIP_USD["VEO3_MOTION_VIDEO_GENERATION"]["RESOLUTION_720"])
    prices = {
        "image": {"unit": "image", "usd": str(_IMAGE_USD)},
        "video": {"unit": "video", "usd": str(clip_usd("MOTION2", None))},
        **{
            m: {"unit": "video", "usd": other} for m in ("VEO3", "VEO3FAST", "KLING2_1", "KLING2_5")
        },
    }
    source = "the emulator's own rates"
    return json.dumps({k: {**v, "source": source} for k, v in prices.items()})
