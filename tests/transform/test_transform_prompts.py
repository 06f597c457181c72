"""The transform's prompt holds the user's description, which the spec says is not logged in
full: it is sent to the provider and kept nowhere once its job ends (``transform.keep_prompts``
off by default), unless the settings or the request ask to keep it. Checked in everything the
process writes: the catalog (jobs, their history, callbacks) and the engine's system database
(workflow inputs and step results, decoded)."""

from __future__ import annotations

import base64
import binascii
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import wait_until
from fixtures.server import loopback_socket, serve_app, socket_url
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.emulator.replicate.api import DUMMY_KEY, ReplicateEmulator
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings
from transform.transform_support import (
    DESCRIPTION,
    HOSTED_ENV,
    astronaut,
    encoded,
    form_bytes,
    transform_settings,
)

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

MARKER = "quokka-lantern-7731"


def _holds(value: Any, needle: bytes) -> bool:
    """Whether a stored value holds ``needle``: as text, or inside base64 (DBOS pickles)."""
    if isinstance(value, bytes):
        return needle in value
    if not isinstance(value, str):
        return False
    if needle.decode() in value:
        return True
    try:
        return needle in base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False


def mentions(database: Path, needle: str) -> list[str]:
    """Every ``table.column`` of an SQLite database that holds ``needle`` in some row."""
    found = set()
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                found |= {
                    f"{table}.{name}"
                    for name, value in zip(columns, row, strict=True)
                    if _holds(value, needle.encode())
                }
    return sorted(found)


@asynccontextmanager
async def app_with_webhooks(
    settings: Settings, environ: dict[str, str]
) -> AsyncIterator[tuple[Services, str]]:
    """The API on loopback, its own URL as the engine's webhook base, and the engine."""
    sock = loopback_socket()
    settings = settings.model_copy(update={"public_url": socket_url(sock)})
    await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ=environ)
    try:
        async with serve_app(create_app(services), sock) as base_url:
            await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
            yield services, base_url
    finally:
        await services.aclose()


async def _transform(
    base_url: str, emulator: EmulatorControl, fields: dict[str, str]
) -> dict[str, Any]:
    """One photo transform on Replicate; its result once the provider's callback is in too."""
    content_type, body = form_bytes(fields, encoded(astronaut(), "JPEG"))
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{base_url}/generate/cinematic", content=body, headers={"Content-Type": content_type}
        )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    assert result["provider"] == "REPLICATE"

    async def called_back() -> bool:
        hooks = (await emulator.ledger("replicate"))["webhooks"]
        return any(hook["status"] == 200 for hook in hooks)

    await wait_until(called_back, timeout_s=30)
    return result


async def _sent_prompt(services: Services, emulator_url: str) -> str:
    """The prompt Replicate received for the run's one job, as Replicate tells it."""
    jobs = await services.catalog.jobs.list(provider="replicate")
    [job] = jobs
    async with httpx.AsyncClient(timeout=30) as http:
        prediction = await http.get(
            f"{emulator_url}/replicate/v1/predictions/{job.provider_request_id}",
            headers={"Authorization": f"Bearer {DUMMY_KEY}"},
        )
    prediction.raise_for_status()
    return str(prediction.json()["input"]["prompt"])


async def test_a_transform_sends_its_prompt_and_keeps_it_nowhere(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    data_dir = tmp_path / "data"
    settings = transform_settings(data_dir, emulator_server.base_url)
    environ = {**HOSTED_ENV, **ReplicateEmulator.environment(emulator_server.base_url)}
    description = f"{DESCRIPTION}, a {MARKER} in hand"
    async with app_with_webhooks(settings, environ) as (services, base_url):
        await _transform(base_url, emulator, {"scene_description": description})
        assert MARKER in await _sent_prompt(services, emulator_server.base_url)
        [job] = await services.catalog.jobs.list(provider="replicate")
        assert job.status == "succeeded"
        assert job.prompt is None
        assert (job.request["prompt"], job.request["keep_prompt"]) == ("", False)
        assert len(await services.catalog.webhook_events.list(provider="replicate")) >= 1
    assert mentions(data_dir / "reelforge.db", MARKER) == []
    assert mentions(data_dir / "engine.sqlite", MARKER) == []


@pytest.mark.parametrize(
    ("transform", "fields"),
    [({"keep_prompts": True}, {}), ({}, {"keep_upload": "true"})],
    ids=["keep_prompts", "keep_upload"],
)
async def test_a_transform_asked_to_keep_its_prompt_keeps_it_in_its_job(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    transform: dict[str, Any],
    fields: dict[str, str],
) -> None:
    settings = transform_settings(tmp_path / "data", emulator_server.base_url, transform=transform)
    environ = {**HOSTED_ENV, **ReplicateEmulator.environment(emulator_server.base_url)}
    description = f"{DESCRIPTION}, a {MARKER} in hand"
    async with app_with_webhooks(settings, environ) as (services, base_url):
        await _transform(base_url, emulator, {"scene_description": description, **fields})
        [job] = await services.catalog.jobs.list(provider="replicate")
        assert job.prompt is not None
        assert MARKER in job.prompt
        assert job.request["prompt"] == job.prompt
        assert job.prompt == await _sent_prompt(services, emulator_server.base_url)
