"""A test helper process: the engine in a role, optionally starting a run of fal jobs first.

Settings come from the environment (``fixtures.engine.engine_env``). With ``--start N`` it
starts a run of N small fal stills (``--forget-prompts``: whose prompts are not kept), writes
the run id to ``--marker``, and then either keeps running (``--role worker``: it drives the run,
until killed) or exits (``--role api`` in scale-out mode: the run waits on the queue for the
workers).

With ``--swallow-recoveries N`` the engine's reaper gets a recovery whose first N take-overs do
nothing and report nothing, as DBOS's recovery does when it fails to re-enqueue a workflow
(it logs and goes on); each call is written to ``--recovery-log``.

    python tests/engine/engine_runner.py --role worker --start 12 --marker RUN_ID_FILE
    python tests/engine/engine_runner.py --role worker --swallow-recoveries 1 --recovery-log F
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.engine import fal_still
from reelforge.engine.config import EngineRole
from reelforge.engine.reaper import DBOSRecovery, PendingWorkflow
from reelforge.engine.specs import WaitPolicy
from reelforge.log import configure_logging
from reelforge.services import build_services, open_engine, open_services
from reelforge.settings import Settings


class SwallowingRecovery:
    """DBOS's recovery, except that the first ``swallow`` calls silently recover nothing."""

    def __init__(self, swallow: int, log: Path) -> None:
        self._inner = DBOSRecovery()
        self._swallow = swallow
        self._log = log

    async def recover(self, executor_id: str) -> int:
        if self._swallow > 0:
            self._swallow -= 1
            self._write(f"swallowed {executor_id}")
            return 0
        count = await self._inner.recover(executor_id)
        self._write(f"recovered {executor_id} {count}")
        return count

    async def pending(self, executor_id: str) -> list[PendingWorkflow]:
        return await self._inner.pending(executor_id)

    def _write(self, line: str) -> None:
        with self._log.open("a") as handle:
            handle.write(line + "\n")


async def serve_with_recovery(
    settings: Settings, role: EngineRole, swallow: int, log: Path
) -> None:
    """The engine alone (no run started here), its reaper on a :class:`SwallowingRecovery`."""
    services = build_services(settings, environ=None)
    try:
        await open_engine(services, role, recovery=SwallowingRecovery(swallow, log))
        await asyncio.Event().wait()
    finally:
        await services.aclose()


async def main(
    role: EngineRole, start: int, poll_s: float, marker: Path | None, *, keep_prompts: bool = True
) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    async with open_services(settings, engine=role, environ=None) as services:
        assert services.engine is not None
        if start:
            run_id = await services.engine.start_run(
                "crash-test",
                [fal_still(f"f{i}", keep_prompt=keep_prompts) for i in range(start)],
                wait=WaitPolicy(poll_interval_s=poll_s),
            )
            if marker is not None:
                marker.write_text(run_id)
        if services.engine.engine.executes:
            await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["api", "worker"], default="worker")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--poll-s", type=float, default=0.2)
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--swallow-recoveries", type=int, default=0)
    parser.add_argument("--recovery-log", type=Path)
    parser.add_argument("--forget-prompts", action="store_true")
    args = parser.parse_args()
    if args.recovery_log is not None:
        settings = Settings()
        configure_logging(settings.log_level)
        asyncio.run(
            serve_with_recovery(settings, args.role, args.swallow_recoveries, args.recovery_log)
        )
    else:
        asyncio.run(
            main(
                args.role,
                args.start,
                args.poll_s,
                args.marker,
                keep_prompts=not args.forget_prompts,
            )
        )
