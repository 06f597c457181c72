"""A run recorded under a trace (as the API records it) and run by ``reelforge worker``, another
process: the worker's spans (the job, its steps, its provider calls) go to the OTLP endpoint of
the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` variable as children of the run's span, and every
log line of the work in the worker carries the trace id."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_env, engine_settings, fal_still, processes, wait_for_run_end
from fixtures.otlp import otlp_receiver
from reelforge.catalog import Catalog, upgrade_database
from reelforge.catalog.repositories import NewJob, NewRunEvent
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import WaitPolicy
from reelforge.tracing import span_id_for

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

TRACE = "5b8aa5a2d2c872e8321cf37308d69df2"
RUN_SPAN = "051581bf3cb55c13"
CLIENT = 3


def _lines(log: str) -> list[dict[str, Any]]:
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


async def test_a_worker_writes_its_spans_and_log_lines_under_the_run_trace(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    settings = engine_settings(
        tmp_path / "data", emulator_server.base_url, engine={"start_grace_s": 0.1}
    )
    await upgrade_database(settings.effective_database_url)
    traceparent = f"00-{TRACE}-{RUN_SPAN}-01"
    spec = fal_still("traced", wait=WaitPolicy(poll_interval_s=0.1))
    async with Catalog.from_url(settings.effective_database_url) as catalog:
        run = await catalog.runs.create(feature="trace-test", input={}, traceparent=traceparent)
        (job,) = await catalog.jobs.create_many(
            [NewJob("fal", "fal-ai/flux/dev", "text_to_image", spec.model_dump(mode="json"))],
            run_id=run.id,
            run_event=NewRunEvent("queued", {"jobs": 1, "priority": "batch"}, key="queued"),
            traceparent=traceparent,
        )
    await asyncio.sleep(0.2)
    async with otlp_receiver() as receiver:
        env = engine_env(settings)
        env |= {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url.removesuffix("/v1/traces"),
            "REELFORGE_LOG_LEVEL": "info",
            "REELFORGE_LOG_JSON": "true",
            "REELFORGE_TRACING__SERVICE_NAME": "reelforge-worker",
        }
        with processes(tmp_path, env) as group:
            worker = group.worker("worker")
            async with Catalog.from_url(settings.effective_database_url) as catalog:
                status = await wait_for_run_end(catalog, run.id, timeout_s=90)
            assert status == "succeeded", group.log("worker")
            # Stopped while this loop serves the receiver: its last spans are sent on the way.
            worker.terminate()
            assert await asyncio.to_thread(worker.wait, 60) == 0, group.log("worker")
            log = group.log("worker")

    (job_span,) = receiver.named("job fal", TRACE)
    assert job_span.service_name == "reelforge-worker"
    assert job_span.parent_span_id == RUN_SPAN
    assert job_span.span_id == f"{span_id_for(job.id):016x}"
    steps = {s.name: s for s in receiver.in_trace(TRACE) if s.parent_span_id == job_span.span_id}
    assert {"job.submit", "job.record"} <= set(steps), sorted(steps)
    calls = [s for s in receiver.in_trace(TRACE) if s.kind == CLIENT]
    assert "fal submit" in {s.name for s in calls}
    for name in ("run.begin", "run.finish"):
        assert [s.parent_span_id for s in receiver.named(name, TRACE)] == [RUN_SPAN], name

    lines = _lines(log)
    work = [line for line in lines if line.get("job_id") == job.id]
    assert any(line["event"] == "job.succeeded" for line in work), log
    assert any(line["event"] == "fal.job.submitted" for line in work), log
    assert {line.get("trace_id") for line in work} == {TRACE}, work
    of_run = [line for line in lines if line.get("run_id") == run.id]
    assert {line.get("trace_id") for line in of_run} == {TRACE}, of_run
