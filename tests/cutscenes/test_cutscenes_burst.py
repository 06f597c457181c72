"""A burst of cutscene triggers on the offline default (the local studio), on SQLite and on
PostgreSQL: every trigger is answered 202 (no 5xx) and every cutscene ends, each of its media
announced ready on the session's stream. Behaviour only; how fast is ``bench/cutscene_burst.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx

from cutscenes.cutscenes_support import CAMPAIGN, SESSION, Api, SseEvent, read_events
from fixtures import database as database_fixtures
from fixtures.engine import (
    Processes,
    engine_env,
    engine_settings,
    open_engine_harness,
    processes,
    wait_until,
)
from fixtures.server import loopback_socket
from reelforge.catalog import Catalog, upgrade_database
from reelforge.features.cutscenes.repository import CutsceneRepository

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url

TRIGGERS = 30
TERMINAL = ("ready", "failed", "skipped")


async def test_a_burst_of_triggers_ends_every_cutscene_ready_and_answers_no_5xx(
    tmp_path: Path, database_url: str
) -> None:
    # Nothing here calls a hosted provider: fal's URL is never used.
    settings = engine_settings(
        tmp_path / "data",
        "http://127.0.0.1:9",
        engine={"api_executes": True},  # scale-out (PostgreSQL): this process runs the work
        database_url=database_url,
    )
    async with (
        open_engine_harness(settings) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60, trust_env=False) as http,
    ):
        api = Api(harness, http)
        await api.enable(
            image_provider=None, video_provider=None, clip_duration_s=1, budget_per_session_usd=None
        )
        statuses: list[int] = []
        media_ids: set[str] = set()
        cutscene_ids: list[str] = []
        for turn in range(TRIGGERS):  # back to back: each sent when the last one answered
            answer = await api.trigger(turn_number=turn, image_prompt=f"turn {turn}: the duel")
            statuses.append(answer.status_code)
            if answer.status_code == 202:
                body = answer.json()
                cutscene_ids.append(body["cutscene_id"])
                media_ids.update(body["asset_ids"])

        def all_announced(events: list[SseEvent]) -> bool:
            return media_ids <= {e.data["media_id"] for e in events if e.kind in TERMINAL}

        events = await read_events(api, all_announced, timeout_s=600)

        repository = CutsceneRepository.on(harness.services.catalog)
        stages = [(await repository.get(cutscene_id)).stage for cutscene_id in cutscene_ids]
        media = [m for cutscene_id in cutscene_ids for m in await repository.media_of(cutscene_id)]

    assert statuses == [202] * TRIGGERS
    assert len(media_ids) == 2 * TRIGGERS
    assert stages == ["done"] * TRIGGERS
    assert {m.id: m.status for m in media} == dict.fromkeys(media_ids, "complete")
    ends = [(e.data["media_id"], e.kind) for e in events if e.kind in TERMINAL]
    assert sorted(ends) == sorted((media_id, "ready") for media_id in media_ids)
    assert {e.data["campaign_id"] for e in events} == {CAMPAIGN}
    assert {e.data["session_id"] for e in events} == {SESSION}


async def test_a_burst_cut_by_kill_9_ends_every_cutscene_ready_after_a_restart(
    tmp_path: Path, database_url: str
) -> None:
    """The server dies (``kill -9``) with renders in flight: the next one renders them again
    (the local studio's jobs lived in the dead process), and every cutscene ends ready."""
    settings = engine_settings(
        tmp_path / "data",
        "http://127.0.0.1:9",
        engine={"api_executes": True, "executor_id": "burst-host"},
        database_url=database_url,
    )
    await upgrade_database(settings.effective_database_url)
    async with (
        Catalog.from_url(settings.effective_database_url) as catalog,
        httpx.AsyncClient(timeout=60, trust_env=False) as http,
    ):
        with processes(tmp_path, engine_env(settings)) as group:
            first, base_url = await _serve(group, "first", http)
            put = await http.put(
                f"{base_url}/api/media/settings",
                params={"campaign_id": CAMPAIGN},
                json={"enabled": True, "quality": "draft", "clip_duration_s": 1},
            )
            assert put.status_code == 200, put.text
            statuses, media_ids = [], set()
            for turn in range(TRIGGERS):
                body = {
                    "campaign_id": CAMPAIGN,
                    "session_id": SESSION,
                    "turn_number": turn,
                    "cutscene_type": "action_climax",
                    "image_prompt": f"turn {turn}: the duel",
                }
                answer = await http.post(f"{base_url}/api/media/cutscenes", json=body)
                statuses.append(answer.status_code)
                media_ids.update(answer.json().get("asset_ids", []))
            repository = CutsceneRepository.on(catalog)
            await wait_until(lambda: _ended(repository, TRIGGERS // 3), timeout_s=300)
            Processes.kill(first)

            await _serve(group, "second", http)
            await wait_until(lambda: _ended(repository, len(media_ids)), timeout_s=600)
            media = await repository.list_media(CAMPAIGN, session_id=SESSION, limit=500)
            events = await repository.events_after(CAMPAIGN, SESSION)

    assert statuses == [202] * TRIGGERS
    assert {m.id: (m.status, m.error_message) for m in media} == dict.fromkeys(
        media_ids, ("complete", None)
    )
    ready = sorted(str(e.media_id) for e in events if e.kind == "ready")
    assert ready == sorted(media_ids)


async def _serve(group: Processes, name: str, http: httpx.AsyncClient) -> tuple[Any, str]:
    port = _free_port()
    env = {"REELFORGE_SERVER__HOST": "127.0.0.1", "REELFORGE_SERVER__PORT": str(port)}
    child = group.start(name, "-m", "reelforge", "serve", env=env)
    base_url = f"http://127.0.0.1:{port}"
    async with asyncio.timeout(90):
        while True:
            assert child.poll() is None, group.log(name)
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{base_url}/healthz")).status_code == 200:
                    return child, base_url
            await asyncio.sleep(0.1)


def _free_port() -> int:
    sock = loopback_socket()
    try:
        return int(sock.getsockname()[1])
    finally:
        sock.close()


async def _ended(repository: CutsceneRepository, count: int) -> bool:
    media = await repository.list_media(CAMPAIGN, session_id=SESSION, limit=500)
    return sum(1 for m in media if m.status in ("complete", "failed")) >= count
