"""``GET /metrics`` after a run of each of the five features on the offline local studio, all
started through the real HTTP API on loopback: per-provider series for every feature, and the
Grafana dashboard in ``docs/grafana/`` reads only series that are there, and every one of
ours."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fixtures.engine import FAST_ENGINE, open_engine_harness, wait_until
from fixtures.soak_plan import FeatureDraw
from fixtures.soak_requests import FeatureRequests
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.providers.base import Capability
from reelforge.settings import Settings

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "reelforge.json"
FEATURES = ("keyframes", "segments", "characters", "cutscenes", "transform")
#: A series name in a PromQL query: ours all start with one of these.
SERIES = re.compile(r"\b((?:reelforge|image_generation)_[a-z0-9_]+)\b")


def _settings(data_dir: Path) -> Settings:
    """Offline: no provider key, the local studio for everything, small outputs."""
    return Settings(
        data_dir=data_dir,
        auth={"enabled": False},
        ingest={"allowed_hosts": ["127.0.0.1"]},
        engine=dict(FAST_ENGINE),
        keyframes={"poll_interval_s": 0.1, "retry_backoff_s": 0.1},
        segments={"poll_interval_s": 0.1, "width": 320, "height": 180},
        characters={
            "poll_interval_s": 0.1,
            "portrait_width": 256,
            "portrait_height": 256,
            "scene_width": 512,
            "scene_height": 288,
        },
        transform={"poll_interval_s": 0.1, "video_poll_interval_s": 0.1},
    )


async def _run_each_feature(http: httpx.AsyncClient, harness: Any) -> None:
    requests = FeatureRequests(http)
    await requests.prepare()
    draws = [
        FeatureDraw("keyframes", provider="local"),
        FeatureDraw("segments", provider="local"),
        FeatureDraw("characters", variant="reference"),
        FeatureDraw("cutscenes", provider="local", clip_provider="local"),
        FeatureDraw("transform", variant="photo"),
    ]
    for draw in draws:
        await requests.start(draw)
    await requests.wait_for_transforms()
    started = [answer for answer in requests.answers if answer.run_id is not None]
    assert [a.outcome for a in requests.answers].count("started") == 4, requests.answers
    assert ("transform", "photo: succeeded") in requests.counts(), requests.answers
    for answer in started:
        assert answer.run_id is not None
        view = await harness.engine.wait_for_run(answer.run_id, 120)
        assert view.done, f"{answer.feature} run {answer.run_id} did not end"

    async def settled() -> bool:
        # A cutscene's clip is a job of a run its still's run starts.
        jobs = harness.services.catalog.jobs
        return not any([await jobs.list(status=status) for status in ("queued", "running")])

    await wait_until(settled, timeout_s=120)


async def _fail_a_job(harness: Any) -> None:
    """An engine job larger than the local studio renders: it fails at submission. (The
    features check sizes before they start a run, so none of theirs fails offline.)"""
    big = JobSpec(
        provider="local",
        capability=Capability.TEXT_TO_IMAGE,
        prompt="a lighthouse at dawn",
        width=3840,
        height=2160,
        label="too-big",
    )
    run_id = await harness.engine.start_run("test", [big], wait=WaitPolicy(poll_interval_s=0.1))
    view = await harness.engine.wait_for_run(run_id, 60)
    assert view.done
    assert view.status == "failed", view


async def _refuse_a_webhook(http: httpx.AsyncClient) -> None:
    """A callback that claims to be Replicate's, unsigned: refused."""
    refused = await http.post("/webhooks/replicate", json={"id": "nope", "status": "succeeded"})
    assert refused.status_code == 401, refused.text


def _samples(exposition: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    ]


def _dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [
        str(target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    return queries


async def test_metrics_show_every_feature_per_provider_and_the_dashboard_reads_them(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path / "data")
    async with open_engine_harness(settings, webhooks=False) as harness:
        http = httpx.AsyncClient(base_url=harness.base_url, timeout=60)
        async with http:
            await _run_each_feature(http, harness)
            await _fail_a_job(harness)
            await _refuse_a_webhook(http)
            exposition = (await http.get("/metrics")).text
    samples = _samples(exposition)

    def series(name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        return [
            (have, value)
            for sample, have, value in samples
            if sample == name and labels.items() <= have.items()
        ]

    for feature in FEATURES:
        submitted = series("reelforge_provider_submissions_total", feature=feature)
        assert submitted, f"no submissions counted for {feature}"
        assert all(labels["provider"] == "local" and value >= 1 for labels, value in submitted)
        assert series("reelforge_provider_successes_total", feature=feature, provider="local")
        assert series("reelforge_provider_latency_seconds_count", feature=feature, provider="local")
        assert series("reelforge_queue_wait_seconds_count", feature=feature, provider="local")
    # Every submitted job succeeded; the oversized one failed before its submission.
    submissions = sum(v for _, v in series("reelforge_provider_submissions_total"))
    successes = sum(v for _, v in series("reelforge_provider_successes_total"))
    assert submissions == successes > 0
    assert [
        (labels["feature"], labels["provider"], value)
        for labels, value in series("reelforge_provider_failures_total")
    ] == [("test", "local", 1.0)]
    assert series("reelforge_webhooks_received_total", provider="replicate", result="refused")
    assert series("reelforge_budget_refusals_total", scope_kind="project") == [
        ({"scope_kind": "project"}, 0.0)
    ]
    assert series("reelforge_queue_jobs", provider="local", status="queued") == [
        ({"provider": "local", "status": "queued"}, 0.0)
    ]
    # The keyframes spec's three names are there, per provider.
    for name in (
        "image_generation_success_rate",
        "image_generation_avg_latency_ms",
        "image_generation_retry_count_total",
    ):
        assert series(name, provider="local"), name

    exposed = {name for name, _, _ in samples}
    read: set[str] = set()
    for query in _dashboard_queries():
        named = SERIES.findall(query)
        assert named, f"a panel's query names none of our series: {query}"
        missing = [name for name in named if name not in exposed]
        assert not missing, f"{query} reads series /metrics does not expose: {missing}"
        read.update(named)
    # And the other way: every metric of ours has a panel that reads it (prometheus_client's
    # creation times, ``*_created``, aside).
    unread = [
        family.name
        for family in text_string_to_metric_families(exposition)
        if SERIES.fullmatch(family.name)
        and not family.name.endswith("_created")
        and not any(name == family.name or name.startswith(f"{family.name}_") for name in read)
    ]
    assert not unread, f"no panel of the dashboard reads {unread}"


def test_the_dashboard_is_grafana_json_with_a_query_per_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["title"]
    assert dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["title"], panel
        assert panel["targets"], panel
        assert all(target["expr"].strip() for target in panel["targets"]), panel
