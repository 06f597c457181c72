"""Start, wait for and read the runs of any feature: what every face offers generically.

:class:`FeatureRuns` sits on the one feature contract (:mod:`reelforge.engine.features`): it
parses a face's JSON with the feature's own parser, plans the run, starts it on the engine,
and reads back the response the feature's finish step stored. REST (``POST /v1/runs``,
``GET /v1/runs/{id}/result``), MCP (``start_run``, ``get_run_result``) and the CLI
(``reelforge runs``) all go through it, so a new feature is offered everywhere at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from reelforge.catalog.models import new_id
from reelforge.engine.features import FeatureDirectory
from reelforge.engine.hooks.service import HookService
from reelforge.engine.service import EngineService, RunView
from reelforge.errors import ConfigurationError

__all__ = ["FeatureRuns", "RunResult"]


@dataclass(frozen=True, slots=True)
class RunResult:
    """A run as the generic faces answer it: where it stands, and its response once done."""

    run: RunView
    service_url: str

    def to_json(self) -> dict[str, Any]:
        view = self.run
        finished = sum(view.counts.get(s, 0) for s in ("succeeded", "failed", "canceled"))
        return {
            "run_id": view.id,
            "feature": view.feature,
            "status": view.status,
            "done": view.done,
            "progress": {"finished": finished, "total": len(view.jobs)},
            "response": view.response,
            "run_url": f"{self.service_url}/v1/runs/{view.id}",
            "page_url": f"{self.service_url}/runs/{view.id}",
        }


class FeatureRuns:
    """Generic start / wait / result over every registered feature."""

    def __init__(
        self,
        engine: EngineService,
        features: FeatureDirectory,
        *,
        service_url: str,
        hooks: HookService | None = None,
    ) -> None:
        self._engine = engine
        self._hooks = hooks
        self._features = features
        self._service_url = service_url

    def names(self) -> list[str]:
        return self._features.names()

    async def start(
        self,
        feature: str,
        data: Mapping[str, Any],
        *,
        project_id: str | None = None,
        callback_url: str | None = None,
    ) -> str:
        """Parse, plan and start a run of ``feature``; the run id comes back at once.

        ``callback_url``: where the run's events are sent (signed, retried for a day). It is
        vetted first and subscribed under the run's id before the run is recorded, so no
        event of the run can come before it."""
        chosen = self._features.get(feature)
        request = chosen.parse(data)
        if callback_url is not None:
            if self._hooks is None:
                raise ConfigurationError("Webhooks are not wired in this process.")
            await self._hooks.vet(callback_url)
        plan = await chosen.plan(request, project_id=project_id)
        if callback_url is not None and self._hooks is not None:
            run_id = plan.run_id or new_id()
            plan = replace(plan, run_id=run_id)
            await self._hooks.callback(run_id, callback_url)
        return await self._engine.start(chosen.name, plan)

    async def result(self, run_id: str, *, wait_s: float = 0.0) -> RunResult:
        """The run, once done (waiting up to ``wait_s``) or as it stands."""
        return RunResult(await self._engine.wait_for_run(run_id, wait_s), self._service_url)
