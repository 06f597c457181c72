"""The events of a run's end and of a job's failure, read from the catalog.

Built inside the engine's own workflow steps (the run's, the job's), so every feature's runs
announce them without code of their own. ``cutscene.ready`` names the cutscenes feature's run
by its name and input only (``{"step": "clip"}``), as any reader of runs may.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from reelforge.catalog import Catalog
from reelforge.catalog.records import RunRecord
from reelforge.engine.hooks.events import HookEvent, run_event_type

__all__ = ["HookEvents", "budget_exhausted_event"]

_CUTSCENES = "cutscenes"


class HookEvents:
    """Makes the hook events of runs and jobs."""

    def __init__(self, catalog: Catalog, clock: Callable[[], datetime]) -> None:
        self._catalog = catalog
        self._clock = clock

    async def run_ended(self, run_id: str, round_: int = 0) -> list[HookEvent]:
        """The run's end events; a retry round's (``round_`` > 0) are new events of their own."""
        run = await self._catalog.runs.get(run_id)
        data = _run_data(run)
        again = f":{round_}" if round_ else ""
        events = [
            HookEvent(
                type=run_event_type(run.status),
                key=f"run:{run.id}:end{again}",
                at=self._clock(),
                project_id=run.project_id,
                run_id=run.id,
                data=data,
            )
        ]
        clip = run.feature == _CUTSCENES and run.input.get("step") == "clip"
        if clip and run.status == "succeeded":
            events.append(
                HookEvent(
                    type="cutscene.ready",
                    key=f"run:{run.id}:cutscene{again}",
                    at=self._clock(),
                    project_id=run.project_id,
                    run_id=run.id,
                    data={**data, "cutscene_id": run.input.get("cutscene_id")},
                )
            )
        return events

    async def job_failed(self, job_id: str, run_id: str) -> HookEvent:
        run = await self._catalog.runs.get(run_id)
        job = await self._catalog.jobs.get(job_id)
        return HookEvent(
            type="job.failed",
            key=f"job:{job_id}:failed",
            at=self._clock(),
            project_id=run.project_id,
            run_id=run.id,
            data={
                **_run_data(run),
                "job_id": job.id,
                "provider": job.provider,
                "error_code": job.error_code,
                "label": job.request.get("label"),
            },
        )


def budget_exhausted_event(scope_kind: str, scope_id: str, at: datetime) -> HookEvent:
    """A capped scope refused a reservation: announced once a scope a day (the event's key);
    a project's subscriptions hear about their project's scope."""
    return HookEvent(
        type="budget.exhausted",
        key=f"budget:{scope_kind}:{scope_id}:{at.date().isoformat()}",
        at=at,
        project_id=scope_id if scope_kind == "project" else None,
        data={"scope": f"{scope_kind}:{scope_id}"},
    )


def _run_data(run: RunRecord) -> dict[str, object]:
    return {
        "run_id": run.id,
        "feature": run.feature,
        "status": run.status,
        "project_id": run.project_id,
        "result_path": f"/v1/runs/{run.id}/result",
    }
