"""Helpers of the characters tests: an engine over the emulator (or the local studio), the API
on loopback, and a client that speaks the feature's routes.

Imported as ``characters.characters_support`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fixtures.engine import EngineHarness, engine_settings, open_engine_harness
from reelforge.settings import Settings

__all__ = [
    "MARA",
    "Workspace",
    "library_settings",
    "local_studio_settings",
    "open_workspace",
]

#: A character with every visual fact stored.
MARA: dict[str, Any] = {
    "name": "Mara Quell",
    "projectId": "p-harbour",
    "description": "The harbour's night pilot, who knows every reef by sound.",
    "visual": {
        "role": "night pilot",
        "age": "34",
        "hair": "silver, cropped short",
        "eyes": "storm grey",
        "clothing": "oilskin coat with a red scarf",
        "distinguishingFeatures": "scar over the left brow",
    },
}

_FAST: dict[str, Any] = {"poll_interval_s": 0.05, "wait_s": 60}


def library_settings(data_dir: Path, emulator_url: str, **characters: Any) -> Settings:
    """The Character Library configured (the emulator's), small images, quick polling."""
    base = engine_settings(data_dir, emulator_url)
    providers = dict(base.providers)
    providers["character_library"] = {"base_url": f"{emulator_url}/character_library"}
    return _with(base, providers, characters)


def local_studio_settings(data_dir: Path, emulator_url: str, **characters: Any) -> Settings:
    """No Character Library address: images come from the default provider (the local studio)."""
    base = engine_settings(data_dir, emulator_url)
    return _with(base, dict(base.providers), characters)


def _with(base: Settings, providers: dict[str, Any], characters: dict[str, Any]) -> Settings:
    values = base.model_dump()
    values["providers"] = providers
    values["store"] = {**values["store"], "public_base_url": "/media"}
    values["characters"] = {**values["characters"], **_FAST, **characters}
    values["auth"] = {"enabled": False, "tokens": []}
    return Settings(**values)


@dataclass
class Workspace:
    """The engine harness and an HTTP client on the served API."""

    harness: EngineHarness
    http: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        return self.harness.base_url

    async def create(self, **overrides: Any) -> dict[str, Any]:
        response = await self.http.post("/v1/characters", json={**MARA, **overrides})
        assert response.status_code == 201, response.text
        character: dict[str, Any] = response.json()["character"]
        return character

    async def images(self, character_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"/v1/characters/{character_id}/images")
        assert response.status_code == 200, response.text
        images: list[dict[str, Any]] = response.json()["images"]
        return images

    def media_path(self, key: str) -> Path:
        return self.harness.services.settings.media_root / key


@asynccontextmanager
async def open_workspace(settings: Settings) -> AsyncIterator[Workspace]:
    async with (
        open_engine_harness(settings, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=120, trust_env=False) as http,
    ):
        yield Workspace(harness, http)
