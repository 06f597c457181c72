"""The fault soak's own parts, without processes: its seeded draws, the faults it counts from
the emulator's ledger, and the matching of billed generations to the jobs that kept them (each
must catch what it is for)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fixtures.crash_checks import Orphans, failures
from fixtures.soak_checks import billing_figures, feature_outputs
from fixtures.soak_faults import fired
from fixtures.soak_plan import FEATURES, SoakConfig, SoakDraws
from reelforge.catalog import Catalog, upgrade_database
from reelforge.emulator import FaultRule


def _draws(seed: int) -> tuple[list[Any], list[Any], list[Any]]:
    draws = SoakDraws(SoakConfig("postgres", seed=seed, duration_s=60))
    runs = [draws.next_run() for _ in range(40)]
    faults = [(draws.next_fault_gap(), draws.next_fault()) for _ in range(60)]
    kills = [draws.next_kill() for _ in range(20)]
    return runs, faults, kills


def test_the_choices_come_from_the_seed_alone() -> None:
    first = _draws(20)
    assert first == _draws(20)
    assert first != _draws(21)
    runs, faults, kills = first
    assert [run.feature for run in runs[:5]] == list(FEATURES)
    assert {kill.aimed for kill in kills} == {True, False}
    # Every fault the soak arms is one the emulator takes.
    for _gap, fault in faults:
        FaultRule.model_validate(fault.rule)
    assert len({fault.name for _gap, fault in faults}) >= 8


def _ledger(billed: list[tuple[str, str, str, str]], **more: Any) -> dict[str, Any]:
    return {
        "billed": [
            {"provider": p, "request_id": r, "model": m, "amount_usd": usd}
            for p, r, m, usd in billed
        ],
        "calls": more.get("calls", []),
        "webhooks": more.get("webhooks", []),
    }


def test_fired_faults_count_each_callback_once() -> None:
    calls = [
        {"operation": "submit", "fault": "http_500"},
        {"operation": "file", "fault": "truncated"},
        {"operation": "status", "fault": None},
    ]
    webhooks = [
        {"provider": "fal", "request_id": "a", "fault": "duplicated"},
        {"provider": "fal", "request_id": "a", "fault": "duplicated"},
        {"provider": "fal", "request_id": "b", "fault": None},
    ]
    found = fired(_ledger([], calls=calls, webhooks=webhooks))
    assert found == {"http_500": 1, "file truncated": 1, "webhook duplicated": 1}


async def test_a_generation_no_job_kept_is_extra(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"
    await upgrade_database(url)
    async with Catalog.from_url(url) as catalog:
        run = await catalog.runs.create(feature="soak", input={})
        kept = {
            ("fal", "fal-model", "fal-1"),
            ("google", "veo", "models/veo/operations/op-1"),
            ("leonardo", "MOTION2", "leo-clip-1"),
        }
        for provider, model, request_id in kept:
            job = await catalog.jobs.create(
                run_id=run.id, provider=provider, model=model, capability="x", request={}
            )
            await catalog.jobs.transition(job.id, "running", provider_request_id=request_id)
        ledger = _ledger(
            [
                ("fal", "fal-1", "fal-model", "0.025"),
                ("fal", "fal-2", "fal-model", "0.025"),
                ("google", "op-1", "veo", "1.60"),
                ("leonardo", "leo-clip-1", "MOTION2", "0"),
                ("leonardo", "leo-clip-2", "MOTION2", "0"),
            ]
        )
        figures = await billing_figures(catalog.engine, ledger)
    assert figures["fal"].extra_generations == 1
    # Veo's job keeps the operation's name; the bill names the operation.
    assert figures["google"].extra_generations == 0
    assert figures["leonardo (clips)"].extra_generations == 1
    assert not figures["leonardo (clips)"].avoidable
    assert "leonardo" not in figures
    broken = failures(figures.values(), Orphans())
    assert any(line.startswith("fal: 1 generations billed twice") for line in broken)
    assert any(line.startswith("leonardo (clips): 1 extra generations billed") for line in broken)


async def test_a_copy_named_in_its_jobs_history_is_held(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"
    await upgrade_database(url)
    async with Catalog.from_url(url) as catalog:
        run = await catalog.runs.create(feature="soak", input={})
        job = await catalog.jobs.create(
            run_id=run.id, provider="google", model="m", capability="x", request={}
        )
        assert await feature_outputs(catalog.engine) == set()
        await catalog.jobs.append_event(job.id, "note", {"downscaled": {"asset_id": "copy-1"}})
        await catalog.jobs.append_event(job.id, "note", {"other": {"asset_id": "not-a-copy"}})
        assert await feature_outputs(catalog.engine) == {"copy-1"}
