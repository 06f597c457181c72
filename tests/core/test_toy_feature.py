"""A sixth feature, written in the test tree against the one contract (plan + finish), runs
over REST and MCP with no source edit: the generic run faces offer it, the engine finishes it.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fixtures.server import loopback_socket, serve_app, socket_url
from reelforge.api.app import create_app
from reelforge.catalog import Catalog, upgrade_database
from reelforge.engine.features import FinishedRun, RunPlan
from reelforge.engine.specs import JobSpec
from reelforge.errors import InvalidInput
from reelforge.media.store import MediaStore
from reelforge.providers.base import Capability
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings

# -- the toy feature: about fifty lines ---------------------------------------------------------


class PosterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    titles: list[str] = Field(min_length=1, max_length=4)


class PosterFeature:
    """One previz still per title; the response lists each title's image URL."""

    name = "posters"

    def __init__(self, catalog: Catalog, store: MediaStore) -> None:
        self._catalog = catalog
        self._store = store

    def parse(self, data: Mapping[str, Any]) -> PosterRequest:
        try:
            return PosterRequest.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput("A posters request needs 1 to 4 titles.") from exc

    async def plan(self, request: PosterRequest, *, project_id: str | None = None) -> RunPlan:
        jobs = [
            JobSpec(
                provider="local",
                capability=Capability.TEXT_TO_IMAGE,
                prompt=f"A film poster: {title}",
                width=320,
                height=180,
                label=f"poster-{index}",
            )
            for index, title in enumerate(request.titles)
        ]
        return RunPlan(jobs=jobs, input={"titles": request.titles}, project_id=project_id)

    async def finish(self, run: FinishedRun) -> dict[str, Any]:
        jobs = run.jobs_by_label()
        posters = []
        for index, title in enumerate(run.run.input["titles"]):
            job = jobs[f"poster-{index}"]
            url = None
            if job.asset_ids:
                asset = await self._catalog.assets.get(job.asset_ids[0])
                url = self._store.public_url(asset.key)
            posters.append({"title": title, "status": job.status, "image_url": url})
        return {"posters": posters, "status": run.status}


def posters(services: Services) -> PosterFeature:
    return PosterFeature(services.catalog, services.store)


# -- the test ------------------------------------------------------------------------------------


@asynccontextmanager
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Services]]:
    sock = loopback_socket()
    port = sock.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path / "data",
        auth={"enabled": False},
        server={"host": "127.0.0.1", "port": port},
        engine={"queue_poll_s": 0.05, "notification_poll_s": 0.05, "events_poll_s": 0.05},
    )
    await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ={}, extra_features=[posters])
    try:
        async with serve_app(create_app(services), sock) as base_url:
            assert base_url == socket_url(sock)
            await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
            yield base_url, services
    finally:
        await services.aclose()


async def _decoded_size(client: httpx.AsyncClient, url: str) -> tuple[int, int]:
    response = await client.get(url)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as image:
        image.load()
        return image.size


async def test_a_toy_feature_runs_over_rest_and_mcp(tmp_path: Path) -> None:
    async with served(tmp_path) as (base_url, services), httpx.AsyncClient(timeout=60) as client:
        listed = (await client.get(f"{base_url}/v1/features")).json()
        assert "posters" in listed["features"]
        assert "keyframes" in listed["features"]

        # REST: start, wait, read the response the finish step stored.
        answer = await client.post(
            f"{base_url}/v1/runs?wait_s=60",
            json={"feature": "posters", "input": {"titles": ["Tide", "Ember"]}},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["feature"] == "posters"
        assert body["done"] is True
        assert body["progress"] == {"finished": 2, "total": 2}
        assert [p["title"] for p in body["response"]["posters"]] == ["Tide", "Ember"]
        for poster in body["response"]["posters"]:
            assert poster["status"] == "succeeded"
            assert await _decoded_size(client, poster["image_url"]) == (320, 180)
        again = await client.get(f"{base_url}/v1/runs/{body['run_id']}/result")
        assert again.json()["response"] == body["response"]

        # Bad input is refused by the feature's own parser, before anything is stored.
        runs_before = len(await services.catalog.runs.list(limit=100))
        refused = await client.post(
            f"{base_url}/v1/runs", json={"feature": "posters", "input": {"titles": []}}
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "INVALID_INPUT"
        unknown = await client.post(f"{base_url}/v1/runs", json={"feature": "nope", "input": {}})
        assert unknown.status_code == 404
        assert len(await services.catalog.runs.list(limit=100)) == runs_before

        # MCP: the same feature through the generic tools, over streamable HTTP.
        async with _mcp(base_url) as session:
            tools = {tool.name for tool in (await session.list_tools()).tools}
            assert {"list_features", "start_run", "get_run_result"} <= tools
            started = _payload(
                await session.call_tool(
                    "start_run", {"feature": "posters", "input": {"titles": ["Drift"]}}
                )
            )
            result = _payload(
                await session.call_tool(
                    "get_run_result", {"run_id": started["run_id"], "wait_s": 60}
                )
            )
            assert result["done"] is True
            [poster] = result["response"]["posters"]
            assert poster["title"] == "Drift"
            assert await _decoded_size(client, poster["image_url"]) == (320, 180)
            refusal = await session.call_tool(
                "start_run", {"feature": "posters", "input": {"titles": ["a", "b", "c", "d", "e"]}}
            )
            assert refusal.is_error
            [content] = refusal.content
            assert isinstance(content, TextContent)
            text = content.text
            envelope = json.loads(text[text.index("{") :])
            assert envelope["error"]["code"] == "INVALID_INPUT"


@asynccontextmanager
async def _mcp(base_url: str) -> AsyncIterator[ClientSession]:
    client = httpx2.AsyncClient(timeout=60)
    async with (
        client,
        streamable_http_client(f"{base_url}/mcp/", http_client=client) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    found: dict[str, Any] = result.structured_content or json.loads(result.content[0].text)
    return found
