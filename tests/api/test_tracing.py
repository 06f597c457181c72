"""Tracing end to end: a request's W3C ``traceparent`` (or the segments spec's
``project_context.trace_id``) reaches the run, its jobs' records and every log line of the
work, and the spans (request, run, each job, its steps, each provider call, ingest) reach an
OTLP receiver on loopback, sent by the real exporter."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import structlog
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_settings, open_engine_harness
from fixtures.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver
from reelforge.emulator import EmulatorServer
from reelforge.settings import Settings
from reelforge.tracing import span_id_for

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
ORCHESTRATOR_TRACE = "0af7651916cd43dd8448eb211c80319c"
SERVER, CLIENT = 2, 3  # OTLP's span kinds


def _settings(tmp_path: Path, emulator_url: str, endpoint: str | None) -> Settings:
    settings = engine_settings(tmp_path / "data", emulator_url)
    return settings.model_copy(
        update={
            "segments": settings.segments.model_copy(
                update={"poll_interval_s": 0.1, "width": 320, "height": 180}
            ),
            "tracing": settings.tracing.model_copy(update={"otlp_endpoint": endpoint}),
        }
    )


async def _frame_urls(http: httpx.AsyncClient) -> list[str]:
    urls = []
    for colour in ("navy", "orange"):
        buffer = io.BytesIO()
        Image.new("RGB", (320, 180), colour).save(buffer, format="PNG")
        body = {"base64": base64.b64encode(buffer.getvalue()).decode()}
        stored = await http.post("/v1/assets", json=body)
        assert stored.status_code in (200, 201), stored.text
        urls.append(str(stored.json()["url"]))
    return urls


def _segments(provider: str, urls: list[str], **context: str) -> dict[str, Any]:
    """Two key frames of one scene: one segment, so one job."""
    frames = [
        {
            "frame_id": f"SCENE_1_SHOT_{shot}",
            "image_url": url,
            "scene_number": 1,
            "shot_order": shot,
        }
        for shot, url in enumerate(urls, start=1)
    ]
    words = [
        {"frame_id": frame["frame_id"], "description": "Mara crosses the harbour"}
        for frame in frames
    ]
    return {
        "generated_frames": frames,
        "storyboard_frames": words,
        "video_settings": {"provider_override": provider},
        "project_context": {"project_id": "harbour", "episode_id": "ep-1", **context},
    }


async def _run(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    started = await http.post(
        "/v1/runs", json={"feature": "segments", "input": body}, headers=headers
    )
    assert started.status_code in (200, 202), started.text
    run_id = started.json()["run_id"]
    run = (await http.get(f"/v1/runs/{run_id}", params={"wait_s": 60})).json()
    assert run["done"], run
    assert run["status"] == "succeeded", run
    found: dict[str, Any] = run
    return found


def _children(receiver: OtlpReceiver, parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in receiver.spans if s.parent_span_id == parent.span_id]


def _job_lines(logs: list[MutableMapping[str, Any]], job_id: str) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line.get("job_id") == job_id]


async def test_a_traceparent_reaches_the_spans_the_job_records_and_the_logs(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    async with otlp_receiver() as receiver:
        settings = _settings(tmp_path, emulator_server.base_url, receiver.url)
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as logs:
            async with (
                open_engine_harness(settings) as harness,
                httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http,
            ):
                urls = await _frame_urls(http)
                by_header = await _run(http, _segments("fal", urls), traceparent=traceparent)
                by_body = await _run(http, _segments("local", urls, trace_id=ORCHESTRATOR_TRACE))
                job = (await http.get(f"/v1/jobs/{by_header['jobs'][0]['id']}")).json()
        # The services are closed: what was batched has been sent.

    # The job records carry their trace.
    assert by_header["trace_id"] == CALLER_TRACE
    assert [j["trace_id"] for j in by_header["jobs"]] == [CALLER_TRACE]
    assert job["trace_id"] == CALLER_TRACE
    assert by_body["trace_id"] == ORCHESTRATOR_TRACE
    assert [j["trace_id"] for j in by_body["jobs"]] == [ORCHESTRATOR_TRACE]

    # request -> run -> job -> steps -> provider calls and ingest, in the caller's trace.
    (request,) = receiver.named("POST /v1/runs", CALLER_TRACE)
    assert request.parent_span_id == CALLER_SPAN
    assert request.kind == SERVER
    assert request.service_name == "reelforge"
    (run,) = receiver.named("run segments", CALLER_TRACE)
    assert run.parent_span_id == request.span_id
    job_id = by_header["jobs"][0]["id"]
    (job_span,) = receiver.named("job fal", CALLER_TRACE)
    assert job_span.span_id == f"{span_id_for(job_id):016x}"
    assert job_span.parent_span_id == run.span_id
    assert job_span.attributes["reelforge.job_id"] == job_id
    steps = {span.name: span for span in _children(receiver, job_span)}
    assert {"job.submit", "job.poll", "job.ingest", "job.record"} <= set(steps), sorted(steps)
    (submit,) = [s for s in _children(receiver, steps["job.submit"]) if s.kind == CLIENT]
    assert submit.name == "fal submit"
    assert submit.attributes["reelforge.provider"] == "fal"
    assert "key" not in str(submit.attributes)  # the path only, never a query
    calls = [s for s in receiver.in_trace(CALLER_TRACE) if s.kind == CLIENT]
    assert all(receiver.by_id(s.parent_span_id).name.startswith("job.") for s in calls)
    ingests = receiver.named("media.ingest", CALLER_TRACE)
    assert any(receiver.by_id(s.parent_span_id).name == "job.ingest" for s in ingests), [
        receiver.by_id(s.parent_span_id).name for s in ingests
    ]

    # The orchestrator's trace: the run starts it, linked to the request that asked.
    (orchestrated,) = receiver.named("run segments", ORCHESTRATOR_TRACE)
    assert orchestrated.parent_span_id == ""
    (asking,) = [s for s in receiver.named("POST /v1/runs") if s.trace_id != CALLER_TRACE]
    assert orchestrated.links == ((asking.trace_id, asking.span_id),)
    (local_job,) = receiver.named("job local", ORCHESTRATOR_TRACE)
    assert local_job.parent_span_id == orchestrated.span_id
    local_steps = [s.name for s in _children(receiver, local_job)]
    assert "job.run_inline" in local_steps, local_steps

    # Every log line of the work carries its trace id, in the steps and around them.
    for run_view, trace_id in ((by_header, CALLER_TRACE), (by_body, ORCHESTRATOR_TRACE)):
        lines = _job_lines(logs, run_view["jobs"][0]["id"])
        assert any(line["event"] == "job.succeeded" for line in lines), lines
        assert {line.get("trace_id") for line in lines} == {trace_id}, lines
        run_lines = [line for line in logs if line.get("run_id") == run_view["id"]]
        assert {line.get("trace_id") for line in run_lines} == {trace_id}


@pytest.mark.parametrize(
    "trace_id",
    [
        "4BF92F3577B34DA6A3CE929D0E0E4736",  # upper case
        "00000000000000000000000000000000",  # all zero
        "4bf92f3577b34da6a3ce929d0e0e47",  # short
        "4bf92f3577b34da6a3ce929d0e0e473g",  # not hex
    ],
)
async def test_an_invalid_orchestrator_trace_id_is_invalid_input(
    tmp_path: Path, emulator_server: EmulatorServer, trace_id: str
) -> None:
    settings = _settings(tmp_path, emulator_server.base_url, None)
    async with (
        open_engine_harness(settings, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http,
    ):
        body = _segments("local", ["http://127.0.0.1/a.png"] * 2, trace_id=trace_id)
        answer = await http.post("/v1/segments", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert "trace_id" in str(error["details"]), error


async def test_without_an_endpoint_ids_still_flow_and_nothing_is_recorded(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = _settings(tmp_path, emulator_server.base_url, None)
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    async with (
        open_engine_harness(settings, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http,
    ):
        tracing = harness.services.tracing
        assert not tracing.exporting
        with tracing.span("probe") as span:
            assert not span.is_recording()
        urls = await _frame_urls(http)
        run = await _run(http, _segments("local", urls), traceparent=traceparent)
    assert run["trace_id"] == CALLER_TRACE
    assert [j["trace_id"] for j in run["jobs"]] == [CALLER_TRACE]


async def test_mcp_over_http_carries_the_traceparent_into_the_run(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    settings = _settings(tmp_path, emulator_server.base_url, None)
    async with (
        open_engine_harness(settings, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http,
    ):
        urls = await _frame_urls(http)
        client = httpx2.AsyncClient(headers={"traceparent": traceparent}, timeout=60)
        async with (
            client,
            streamable_http_client(f"{harness.base_url}/mcp/", http_client=client) as (
                read,
                write,
                *_,
            ),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool(
                "start_run", {"feature": "segments", "input": _segments("local", urls)}
            )
        assert not result.is_error, result
        started = result.structured_content or json.loads(result.content[0].text)  # type: ignore[union-attr]
        run = (await http.get(f"/v1/runs/{started['run_id']}", params={"wait_s": 60})).json()
    assert run["trace_id"] == CALLER_TRACE
    assert [j["trace_id"] for j in run["jobs"]] == [CALLER_TRACE]
