"""Leonardo's own prices: quotes from its pricing calculator, kept on record.

Leonardo publishes no per-model USD table for its API: every generation is priced by Leonardo
itself (pay-as-you-go, in US dollars), and its pricing calculator (``POST /pricing-calculator``:
``{"service", "serviceParams": {<service>: {...}}}`` -> ``calculateProductionApiServiceCost.cost``)
answers what a generation with given settings costs. Leonardo's guide to the calculator advises
keeping a copy of its answers rather than asking per request, and an estimate here never calls a
provider, so :func:`ask_quotes` asks once for each default model (``reelforge costs --refresh
--provider leonardo``) and :class:`QuoteBook` keeps the answers in the adapter's own folder
(``<data_dir>/providers/leonardo/quotes.json``). Prices read the book; a configured
``providers.leonardo.prices`` entry still wins.

The calculator's ``cost`` is read as US dollars: a pay-as-you-go account's unit, the only API plan
Leonardo sells now (its PAYG guide). An answer that says it is in credits (``{"amount", "unit":
"CREDITS"}``, a legacy plan) is refused, since no credit-to-dollar rate is published.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reelforge.errors import ConfigurationError
from reelforge.providers.leonardo.models import DEFAULT_MODEL, KINO_XL
from reelforge.providers.leonardo.wire import PROVIDER_ID, LeonardoError
from reelforge.providers.pricing import MAX_PRICE_USD

__all__ = ["DEFAULT_QUOTES", "Quote", "QuoteBook", "QuoteRequest", "ask_quotes", "quoted_usd"]

SOURCE = "Leonardo pricing calculator (POST /pricing-calculator)"
#: What one quote prices: one image at 1024 x 1024 (about a key frame), 30 steps (more steps cost
#: more, so the usual defaults are covered), no Alchemy; one clip per resolution.
_IMAGE_PARAMS = {
    "imageWidth": 1024,
    "imageHeight": 1024,
    "numImages": 1,
    "inferenceSteps": 30,
    "promptMagic": False,
    "alchemyMode": False,
    "highResolution": False,
}


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    """One question for the calculator: the model it prices, per ``unit``, at ``resolution``."""

    model: str
    unit: str
    service: str
    params: Mapping[str, Any]
    resolution: str | None = None

    def body(self) -> dict[str, Any]:
        return {"service": self.service, "serviceParams": {self.service: dict(self.params)}}


#: Leonardo's default text-to-image model, the Character Reference model, and its image-to-video
#: models the calculator prices.
DEFAULT_QUOTES: tuple[QuoteRequest, ...] = (
    QuoteRequest(DEFAULT_MODEL, "image", "IMAGE_GENERATION", _IMAGE_PARAMS),
    # Where a frame with a Character Reference goes (the adapter's reference_model default).
    QuoteRequest(KINO_XL, "image", "IMAGE_GENERATION", _IMAGE_PARAMS),
    *(
        QuoteRequest(model, "video", "MOTION_VIDEO_GENERATION", {"resolution": res}, resolution=res)
        for model in ("MOTION2", "MOTION2FAST")
        for res in ("RESOLUTION_480", "RESOLUTION_720")
    ),
    *(
        QuoteRequest(
            model,
            "video",
            "VEO3_MOTION_VIDEO_GENERATION",
            {"resolution": "RESOLUTION_720"},
            resolution="RESOLUTION_720",
        )
        for model in ("VEO3", "VEO3FAST")
    ),
)


@dataclass(frozen=True, slots=True)
class Quote:
    """Leonardo's answer for one :class:`QuoteRequest`, and when it was given."""

    model: str
    unit: str
    usd: Decimal
    quoted_on: str
    resolution: str | None = None

    @property
    def source(self) -> str:
        return f"{SOURCE}, quoted {self.quoted_on}"

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "unit": self.unit,
            "usd": str(self.usd),
            "quoted_on": self.quoted_on,
            "resolution": self.resolution,
        }


def quoted_usd(answer: Any) -> Decimal:
    """The dollars a calculator answer names; LeonardoError for anything else."""
    result = answer.get("calculateProductionApiServiceCost") if isinstance(answer, dict) else None
    cost = result.get("cost") if isinstance(result, dict) else None
    if isinstance(cost, dict):
        if cost.get("unit") != "DOLLARS":
            raise LeonardoError(
                f"Leonardo quoted in {cost.get('unit')!r}, not dollars: a legacy credit plan has "
                "no published dollar rate; set providers.leonardo.prices instead.",
                provider=PROVIDER_ID,
                details={"unit": str(cost.get("unit"))},
            )
        cost = cost.get("amount")
    if isinstance(cost, bool) or not isinstance(cost, (int, float, str)):
        raise LeonardoError("Leonardo's pricing calculator answered no cost.", provider=PROVIDER_ID)
    try:
        usd = Decimal(str(cost))
    except InvalidOperation:
        raise LeonardoError(
            f"Leonardo's pricing calculator answered {cost!r}.", provider=PROVIDER_ID
        ) from None
    if not usd.is_finite() or not 0 <= usd < MAX_PRICE_USD:
        raise LeonardoError(
            f"Leonardo's pricing calculator answered {cost!r}.", provider=PROVIDER_ID
        )
    return usd


async def ask_quotes(
    ask: Callable[[dict[str, Any]], Awaitable[Any]],
    requests: tuple[QuoteRequest, ...] = DEFAULT_QUOTES,
    *,
    today: str | None = None,
) -> list[Quote]:
    """Every request's quote (all or nothing: one bad answer raises before any is kept)."""
    quoted_on = today or datetime.now(UTC).date().isoformat()
    quotes = []
    for request in requests:
        usd = quoted_usd(await ask(request.body()))
        quotes.append(Quote(request.model, request.unit, usd, quoted_on, request.resolution))
    return quotes


class QuoteBook:
    """The quotes on record, in one JSON file written whole (a temp file, then a rename), and
    read again when another process has replaced it."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._seen: tuple[int, int] | None = None
        self._quotes: tuple[Quote, ...] = ()

    def quotes(self) -> tuple[Quote, ...]:
        if self._path is None:
            return ()
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._seen, self._quotes = None, ()
            return ()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._seen:
            self._quotes = self._read(self._path)
            self._seen = stamp
        return self._quotes

    def find(self, model: str, resolution: str | None) -> Quote | None:
        """The quote for ``model`` at ``resolution`` (None: the model's first quote)."""
        for quote in self.quotes():
            if quote.model == model and (resolution is None or quote.resolution == resolution):
                return quote
        return None

    def place(self) -> Path:
        """Where the quotes are kept; ConfigurationError where nothing can be kept."""
        if self._path is None:
            raise ConfigurationError(
                "Leonardo's quotes have nowhere to be kept: this process has no data folder.",
                details={"provider": PROVIDER_ID},
            )
        return self._path

    def save(self, quotes: list[Quote]) -> None:
        path = self.place()
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"quotes": [quote.to_json() for quote in quotes]}, indent=2)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".quotes-", suffix=".json", delete=False
        ) as handle:
            handle.write(text)
            temp = Path(handle.name)
        os.replace(temp, path)
        self._seen, self._quotes = None, ()

    @staticmethod
    def _read(path: Path) -> tuple[Quote, ...]:
        try:
            found = json.loads(path.read_text())
            return tuple(
                Quote(
                    model=str(item["model"]),
                    unit=str(item["unit"]),
                    usd=Decimal(str(item["usd"])),
                    quoted_on=str(item["quoted_on"]),
                    resolution=item.get("resolution"),
                )
                for item in found["quotes"]
            )
        except (OSError, ValueError, KeyError, TypeError, InvalidOperation):
            raise ConfigurationError(
                f"Leonardo's price quotes in {path} cannot be read: run "
                "`reelforge costs --refresh --provider leonardo` to ask again.",
                details={"provider": PROVIDER_ID, "path": str(path)},
            ) from None
