"""Transforms whose run was never started: ended, with their inputs, after a restart.

A request records its transform (``running``) before it starts the transform's first run, and
only a run's finish step ends a transform. So the record names that run before it exists: its
id is chosen up front (``run_id``) and recorded with the inputs the run will own (the prepared
input, and the upload unless it is kept). A process that dies between the record and the
run's start leaves a transform that no run will end; :class:`StrandedTransforms` ends it.

It is the transform feature's :class:`~reelforge.engine.features.UnstartedWork`: every process
that runs work calls it at boot and every heartbeat, after the engine's own pass over runs
recorded but never started (:mod:`reelforge.engine.stranded`), with the same cutoff (the
engine's grace period; in embedded mode, whatever a dead process left). A transform past the
cutoff, still running, whose run does not exist is ended ``failed`` with ``INTERRUPTED``, and
its inputs are deleted. One whose run exists is left to it: the engine starts a run that was
recorded without its workflow (its finish then ends the transform) and drops one cut off before
its jobs, which the next pass then finds missing.

The request prepares its input before recording, so what lies between the record and the start
is the run's own catalog writes: far shorter than the grace period. Cost: one indexed read of the
running transforms past the cutoff per pass (none on an idle system), and a run lookup for each;
a cursor pages past long-running ones so a backlog never hides a stranded one behind it.
"""

from __future__ import annotations

from datetime import datetime

from reelforge.assets import AssetService
from reelforge.engine.service import EngineService
from reelforge.errors import Interrupted, NotFound
from reelforge.features.transform.inputs import delete_inputs
from reelforge.features.transform.repository import TransformRecord, TransformRepository
from reelforge.log import get_logger

__all__ = ["INTERRUPTED_MESSAGE", "StrandedTransforms"]

log = get_logger(__name__)

INTERRUPTED_MESSAGE = (
    "The transform was interrupted: the process handling it stopped before its run started. "
    "Send the request again."
)


class StrandedTransforms:
    """Ends running transforms whose run was never started; see the module docstring."""

    def __init__(
        self,
        transforms: TransformRepository,
        engine: EngineService,
        assets: AssetService,
        *,
        page: int = 50,
    ) -> None:
        self._transforms = transforms
        self._engine = engine
        self._assets = assets
        self._page = page
        self._cursor: tuple[datetime, str] | None = None

    async def end_unstarted(self, recorded_before: datetime) -> list[str]:
        """One pass over a page of running transforms recorded before ``recorded_before``;
        the ids of those it ended."""
        found = await self._transforms.running_before(
            recorded_before, after=self._cursor, limit=self._page
        )
        # A full page: the next pass goes on after it; else it starts over from the oldest.
        last = found[-1] if len(found) == self._page else None
        self._cursor = None if last is None else (last.created_at, last.id)
        ended = []
        for record in found:
            if await self._end_if_unstarted(record):
                ended.append(record.id)
        return ended

    async def _end_if_unstarted(self, record: TransformRecord) -> bool:
        if record.run_id is None:
            return False  # recorded by an older release, which chose no run id up front
        try:
            await self._engine.get_run(record.run_id)
            return False
        except NotFound:
            pass
        ended = await self._transforms.interrupt(
            record.id, error_code=Interrupted.code, error_message=INTERRUPTED_MESSAGE
        )
        if ended is None:
            return False  # ended meanwhile
        await delete_inputs(self._assets, [str(i) for i in record.details.get("inputs", [])])
        log.warning(
            "transform.interrupted",
            transform_id=record.id,
            run_id=record.run_id,
            reason="its process stopped before its run started",
        )
        return True
