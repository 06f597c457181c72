"""Helpers of the cutscenes tests: the API with an engine over the emulator, and a real SSE
client. Imported as ``cutscenes.cutscenes_support`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from fixtures.engine import EngineHarness, engine_settings, open_engine_harness
from reelforge.budget.scopes import BudgetScope
from reelforge.emulator import EmulatorServer
from reelforge.features.cutscenes.repository import CutsceneRepository

__all__ = [
    "Api",
    "SseEvent",
    "open_api",
    "read_events",
    "wait_for_cutscene",
]

CAMPAIGN = "saga-7"
SESSION = "night-2"
GEMINI_KEY = "AIza-cutscenes-test-key"


@dataclass(frozen=True, slots=True)
class SseEvent:
    id: int
    kind: str
    data: dict[str, Any]


@dataclass
class Api:
    """The served API (REST, SSE, MCP, pages) over services with an engine."""

    harness: EngineHarness
    http: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        return self.harness.base_url

    async def enable(self, campaign: str = CAMPAIGN, **settings: Any) -> dict[str, Any]:
        """Media on for ``campaign``, fal for stills and clips, small and short by default."""
        body = {
            "enabled": True,
            "quality": "draft",
            "clip_duration_s": 4,
            "image_provider": "fal",
            "video_provider": "fal",
            **settings,
        }
        response = await self.http.put(
            "/api/media/settings", params={"campaign_id": campaign}, json=body
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def cap_session(
        self, cap_usd: str, campaign: str = CAMPAIGN, session: str = SESSION
    ) -> None:
        """Media on with no session budget of its own, and the game session capped at
        ``cap_usd`` in the budget (media settings whose budget can never pay for a clip are
        refused; a session spent down to this is not)."""
        await self.enable(campaign, budget_per_session_usd=None)
        scope = BudgetScope.game_session(campaign, session)
        await self.harness.services.budget.set_cap(scope, Decimal(cap_usd), "total")

    async def trigger(self, **fields: Any) -> httpx.Response:
        body = {
            "campaign_id": CAMPAIGN,
            "session_id": SESSION,
            "turn_number": 12,
            "cutscene_type": "action_climax",
            "image_prompt": "Kai leaps across the collapsing bridge, blade drawn",
            "motion_prompt": "fast push-in on the leap",
            "characters": ["Kai"],
            "mood": "storm-lit",
            **fields,
        }
        return await self.http.post("/api/media/cutscenes", json=body)

    async def record(self, media_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/media/records/{media_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


@asynccontextmanager
async def open_api(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    *,
    google: bool = False,
    **engine: Any,
) -> AsyncIterator[Api]:
    """The API over the emulator (fal; with ``google``, Google too, with its key)."""
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine or None)
    environ: dict[str, str] = {}
    if google:
        section = {"base_url": f"{emulator_server.base_url}/google", "timeout_s": 5.0}
        providers = {**settings.providers, "google": section}
        settings = settings.model_copy(update={"providers": providers})
        environ = {"GEMINI_API_KEY": GEMINI_KEY}
    async with (
        open_engine_harness(settings, environ=environ) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=30, trust_env=False) as http,
    ):
        yield Api(harness, http)


async def read_events(
    api: Api,
    until: Callable[[list[SseEvent]], bool],
    *,
    campaign: str = CAMPAIGN,
    session: str = SESSION,
    last_event_id: int | None = None,
    timeout_s: float = 60,
) -> list[SseEvent]:
    """Events of ``/api/media/sse`` (reconnecting with ``Last-Event-ID`` when given) until
    ``until(events)`` holds; the connection is closed afterwards."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    params = {"campaign_id": campaign, "session_id": session}
    events: list[SseEvent] = []
    async with (
        asyncio.timeout(timeout_s),
        aconnect_sse(api.http, "GET", "/api/media/sse", params=params, headers=headers) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for sse in source.aiter_sse():
            if not sse.event or not sse.id:
                continue
            events.append(SseEvent(int(sse.id), sse.event, json.loads(sse.data)))
            if until(events):
                break
    return events


async def wait_for_cutscene(api: Api, cutscene_id: str, timeout_s: float = 60) -> None:
    """Until the cutscene's background work is over (its stage is ``done``)."""
    repository = CutsceneRepository.on(api.harness.services.catalog)
    async with asyncio.timeout(timeout_s):
        while (await repository.get(cutscene_id)).stage != "done":
            await asyncio.sleep(0.05)
