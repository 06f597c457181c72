"""Points where a crash test may stop a process in the middle of starting a run.

:meth:`EngineService.start_run <reelforge.engine.service.EngineService.start_run>` calls
:meth:`FaultPoints.reached` at each :data:`FaultPoint`, in this order:

- ``before_catalog_write``: nothing recorded yet;
- ``between_run_and_jobs``: the run's row is written, its jobs are not;
- ``before_enqueue``: the run, its jobs and its ``queued`` event are written; its workflow is
  not started (nor enqueued);
- ``after_enqueue``: the workflow is started (or enqueued on the runs queue).

By default nothing is armed and :meth:`~FaultPoints.reached` does nothing. **For tests only**,
two environment variables, read once by the composition root, arm one point:

- ``REELFORGE_TEST_FAULT_POINT``: the point's name (above);
- ``REELFORGE_TEST_FAULT_MARKER``: a file path.

The first time the start reaches that point, the marker file gets ``{"point", "run_id"}`` as
JSON (``run_id`` null before the run is written, unless its caller chose it) and the whole
process freezes: a blocking sleep, so the event loop stops too and nothing after the point
happens (no heartbeat, no workflow step, no answer to the request). The test then kills it
with ``kill -9``. Never set these variables in production: a request that reaches the point
hangs for ``hold_s``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, cast, get_args

from reelforge.errors import ConfigurationError

__all__ = ["FAULT_MARKER_ENV", "FAULT_POINT_ENV", "FaultPoint", "FaultPoints"]

FaultPoint = Literal[
    "before_catalog_write", "between_run_and_jobs", "before_enqueue", "after_enqueue"
]
FAULT_POINT_ENV = "REELFORGE_TEST_FAULT_POINT"
FAULT_MARKER_ENV = "REELFORGE_TEST_FAULT_MARKER"
_POINTS: tuple[str, ...] = get_args(FaultPoint)


class FaultPoints:
    """Stops the process at one armed point (tests), or does nothing (always, otherwise)."""

    def __init__(
        self, point: FaultPoint | None = None, marker: Path | None = None, *, hold_s: float = 600
    ) -> None:
        self._point = point
        self._marker = marker
        self._hold_s = hold_s

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> FaultPoints:
        """Armed from ``REELFORGE_TEST_FAULT_POINT`` and ``REELFORGE_TEST_FAULT_MARKER`` when
        both are set (tests only); else disarmed."""
        point, marker = environ.get(FAULT_POINT_ENV), environ.get(FAULT_MARKER_ENV)
        if not point and not marker:
            return cls()
        if point not in _POINTS or not marker:
            raise ConfigurationError(
                f"{FAULT_POINT_ENV} (one of {', '.join(_POINTS)}) and {FAULT_MARKER_ENV} "
                "(a file) arm a crash test's fault point together; unset both otherwise.",
                details={"point": point},
            )
        return cls(cast(FaultPoint, point), Path(marker))

    def reached(self, point: FaultPoint, run_id: str | None = None) -> None:
        """The start has reached ``point``: when armed for it, mark and freeze (once)."""
        if point != self._point or self._marker is None:
            return
        self._point = None
        self._marker.write_text(json.dumps({"point": point, "run_id": run_id}))
        # Blocking on purpose: the whole process stands still until the test kills it.
        time.sleep(self._hold_s)
