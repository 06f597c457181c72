"""The engine of one process: DBOS configured from settings, started and stopped with it.

Built by the composition root (:func:`reelforge.services.build_services`) with what its steps
use, before the features (which start runs on it); started by :meth:`Engine.start` in one of
three roles (:data:`reelforge.engine.config.EngineRole`), once every feature is known, so the
recovery of a half-finished run finds the feature that finishes it. :meth:`Engine.start`:

1. embedded mode: takes the one-process lock next to the SQLite file (a second process gets a
   :class:`~reelforge.errors.ConfigurationError` naming the fix);
2. a process that runs work claims its executor id (see :mod:`reelforge.engine.reaper`);
3. creates DBOS and registers the workflow instance, with its dependencies, *before* launch,
   so the recovery of this executor's pending workflows finds it; a process that runs no work
   listens to none of the queues;
4. launches DBOS on the running event loop (workflows then run on this loop, next to the
   services they use; launch blocks the loop briefly while DBOS migrates its tables), and
   registers the runs queue in scale-out mode. A provider's queue, with its limits, is
   registered by the first run that uses the provider (every process polls every queue, so
   queues of unused providers would only cost); other processes start polling it within a
   second;
5. starts the heartbeat and reaper loop, which also starts runs that a crash left without their
   workflow (:mod:`reelforge.engine.stranded`), at once and then every heartbeat.

Workflows are stamped with ``engine.workflow_version`` (:mod:`reelforge.engine.versioning`),
never with the package version: DBOS resumes a workflow only in a process of the version it was
stamped with, so an upgrade that leaves the workflow code compatible resumes every run in
flight.

The ``client`` role creates a ``DBOSClient`` only: it can cancel and deliver messages, takes
no lock and runs nothing (the CLI uses it next to a running server). DBOS holds one instance
per process, so one engine runs per process at a time. Foreign errors from DBOS and its
database become :mod:`reelforge.errors` here (:func:`translate_engine_error`).

A locked database is waited out, never turned into a lost start: every call into DBOS goes
through :func:`~reelforge.engine.busy.engine_call` (and is idempotent: a workflow's id comes
from its run, a message has its key).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from dbos import DBOS, DBOSClient, DBOSConfig, SetEnqueueOptions, SetWorkflowID
from dbos import error as dbos_error
from dbos._sys_db import SystemDatabase
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from reelforge.assets import AssetService
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.repositories import utc_now
from reelforge.engine.busy import engine_call as _engine_call
from reelforge.engine.busy import translate_engine_error
from reelforge.engine.config import EngineMode, EngineRole, EngineSettings, default_executor_id
from reelforge.engine.events import RunEvents
from reelforge.engine.features import FeatureDirectory
from reelforge.engine.hooks.announcing import HookEvents
from reelforge.engine.hooks.dispatch import HookDispatch
from reelforge.engine.hooks.repository import HookRepository
from reelforge.engine.hooks.sending import HookSender
from reelforge.engine.hooks.workflows import (
    HOOKS_QUEUE,
    AttemptObserver,
    HookWorkflows,
)
from reelforge.engine.lease import WorkerLease
from reelforge.engine.local_wake import wake_local_waiters
from reelforge.engine.lock import SingleProcessLock
from reelforge.engine.operations import EngineDeps, JobOperations
from reelforge.engine.priorities import set_enqueued_priority
from reelforge.engine.reaper import DBOSRecovery, Reaper, Recovery, claim_executor_id
from reelforge.engine.sqlite_support import dbapi, require_sqlite_for_dbos
from reelforge.engine.stranded import StrandedRuns
from reelforge.engine.workflows import (
    RUNS_QUEUE,
    EngineWorkflows,
    provider_queue,
    round_workflow_id,
    run_workflow_id,
)
from reelforge.errors import ConfigurationError
from reelforge.log import get_logger
from reelforge.media.store import MediaStore
from reelforge.providers.registry import ProviderRegistry
from reelforge.tracing import Tracing

__all__ = ["APP_NAME", "DEFAULT_INSTANCE", "Engine", "translate_engine_error", "who_runs_work"]

log = get_logger(__name__)

APP_NAME = "reelforge"
DEFAULT_INSTANCE = "reelforge"
# How often an embedded engine's wait for a run's completion re-reads the catalog anyway.
EMBEDDED_COMPLETION_POLL_S = 1.0
T = TypeVar("T")

_active: Engine | None = None


class Engine:
    """DBOS for this process, in one role, over the services it was built with."""

    def __init__(
        self,
        config: EngineSettings,
        *,
        system_database_url: str,
        catalog: Catalog,
        assets: AssetService,
        store: MediaStore,
        providers: ProviderRegistry,
        budget: BudgetService | None,
        features: FeatureDirectory,
        webhook_base_url: str | None = None,
        tracing: Tracing | None = None,
        hook_sender: HookSender | None = None,
        hook_observer: AttemptObserver | None = None,
    ) -> None:
        """``hook_sender``: where outgoing webhooks go out (none: no deliveries are made);
        ``hook_observer``: told each delivery attempt's outcome."""
        self.settings = config
        self.system_database_url = system_database_url
        self.mode: EngineMode = config.mode_for(self.system_database_url)
        self.application_version = config.workflow_version
        # Decided by start(): what this process does.
        self.role: EngineRole = "client"
        self.executes = False
        self.executor_id = ""
        self.instance_name = DEFAULT_INSTANCE
        self.events = RunEvents(catalog, poll_s=config.events_poll_s)
        self.tracing = tracing or Tracing.off()
        self._lease = WorkerLease()
        self.operations = JobOperations(
            EngineDeps(
                catalog=catalog,
                assets=assets,
                store=store,
                providers=providers,
                events=self.events,
                webhook_base_url=webhook_base_url,
                orphan_wait_s=config.orphan_wait_s,
                features=features,
                budget=budget,
                paid_output_retry_s=config.paid_output_retry_s,
                lease=self._lease,
                tracing=self.tracing,
            )
        )
        self._catalog = catalog
        self._features = features
        self._incarnation = uuid.uuid4().hex
        self._workflows: EngineWorkflows | None = None
        self.hooks = HookRepository.on(catalog)
        self._hook_sender = hook_sender
        self._hook_observer = hook_observer
        self.hook_dispatch = HookDispatch(config.hooks, utc_now)
        self._client: DBOSClient | None = None
        self._lock: SingleProcessLock | None = None
        self._recovery: Recovery = DBOSRecovery()
        self._on_fenced: Callable[[], None] | None = None
        self._reaper: Reaper | None = None
        self._background: asyncio.Task[None] | None = None
        self._sqlite_engine: sa.Engine | None = None
        self._queues: set[str] = set()
        self._system_database: SystemDatabase | None = None

    @property
    def launched(self) -> bool:
        return self._workflows is not None

    # -- life --------------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self.launched or self._client is not None

    def _take_role(self, role: EngineRole, instance_name: str) -> None:
        config = self.settings
        self.role = role
        self.instance_name = instance_name
        self.executes, self.executor_id = who_runs_work(config, self.mode, role)
        self.hook_dispatch.instance_name = instance_name
        self.hook_dispatch.application_version = self.application_version
        # An embedded engine that runs work drives every run itself, so a run's completion
        # always wakes its waiters directly (a client process, beside it, still polls).
        if self.mode == "embedded" and self.executes:
            self.events.completion_poll_s = max(config.events_poll_s, EMBEDDED_COMPLETION_POLL_S)

    async def start(
        self,
        role: EngineRole,
        *,
        instance_name: str = DEFAULT_INSTANCE,
        recovery: Recovery | None = None,
        on_fenced: Callable[[], None] | None = None,
    ) -> None:
        """Start this process's engine in ``role``; ``instance_name`` names the workflow
        instance in DBOS (every process sharing a system database uses the default; only an
        in-process test needs another); ``recovery`` is how the reaper takes over a dead
        executor's work (DBOS's own by default); ``on_fenced``: what this process does once
        its work was taken over while it still ran (exit, by default: see
        :mod:`reelforge.engine.lease`)."""
        global _active
        if self.started:
            raise ConfigurationError("This engine is already started.")
        self._take_role(role, instance_name)
        if recovery is not None:
            self._recovery = recovery
        self._on_fenced = on_fenced
        if self.role == "client":
            self._client = await _engine_call(lambda: asyncio.to_thread(self._new_client))
            self.hook_dispatch.client = self._client
            return
        if _active is not None:
            raise ConfigurationError("A job engine already runs in this process; stop it first.")
        _active = self
        try:
            await self._launch()
        except BaseException:
            await self.stop()
            raise
        log.info(
            "engine.started",
            mode=self.mode,
            role=self.role,
            executes=self.executes,
            executor_id=self.executor_id,
            workflow_version=self.application_version,
        )

    async def _launch(self) -> None:
        if self.mode == "embedded" and self.role != "client":
            database = _sqlite_path(self.system_database_url)
            self._lock = SingleProcessLock(database.with_name(database.name + ".lock"))
            self._lock.acquire()
        if self.executes:
            await claim_executor_id(
                self._catalog.workers,
                executor_id=self.executor_id,
                incarnation=self._incarnation,
                role=self.role,
                app_version=self.application_version,
                stale_after_s=self.settings.stale_after_s,
                now=utc_now,
            )
            self._lease.hold(self.executor_id, self._incarnation, self._on_fenced)
        try:
            dbos = DBOS(config=self._dbos_config())
            hook_workflows = None
            if self._hook_sender is not None:
                hook_workflows = HookWorkflows(
                    self.instance_name,
                    self.hooks,
                    HookEvents(self._catalog, utc_now),
                    self._hook_sender,
                    backoff_s=self.settings.hooks.backoff_s,
                    clock=utc_now,
                    observe=self._hook_observer,
                )
            self._workflows = EngineWorkflows(
                self.instance_name,
                self.operations,
                inline_providers=frozenset(self.settings.inline_providers),
                fan_in_check_s=self.settings.fan_in_check_s,
                hooks=hook_workflows,
            )
            self.hook_dispatch.workflows = hook_workflows
            if not self.executes:
                DBOS.listen_queues([])
            # On this loop's thread, so DBOS runs our async workflows on this loop.
            DBOS.launch()
            self._system_database = dbos._sys_db
            if self.mode == "embedded":
                wake_local_waiters(dbos._sys_db)
        except (dbos_error.DBOSException, SQLAlchemyError, OSError) as exc:
            raise translate_engine_error(exc) from exc
        await self._register_queues()
        if self.executes:
            self._reaper = Reaper(
                self._catalog.workers,
                self._recovery,
                executor_id=self.executor_id,
                incarnation=self._incarnation,
                workflow_version=self.application_version,
                heartbeat_s=self.settings.heartbeat_s,
                stale_after_s=self.settings.stale_after_s,
                attempts=self.settings.takeover_attempts,
                now=utc_now,
                lease=self._lease,
                stranded=StrandedRuns(
                    self._catalog,
                    self,
                    self.settings,
                    exclusive=self.mode == "embedded",
                    features=self._features,
                ),
            )
            self._background = asyncio.create_task(self._reaper.run(), name="reelforge-reaper")

    async def stop(self) -> None:
        """Stop this process's part of the work; pending work resumes on the next start or
        on another worker."""
        global _active
        if self._client is not None:
            await asyncio.to_thread(self._client.destroy)
            self._client = None
            self.hook_dispatch.client = None
            self._dispose_sqlite_engine()
            return
        if self._background is not None:
            self._background.cancel()
            await asyncio.gather(self._background, return_exceptions=True)
            self._background = None
        if self._workflows is not None:
            await self._workflows.abandon()
        if self._reaper is not None:
            await self._reaper.stop()
            self._reaper = None
        self._lease.release()
        if _active is self:
            await asyncio.to_thread(DBOS.destroy)
            _active = None
            # DBOS made its thread pool this loop's default executor and has just shut it
            # down: give the loop a working one back for whatever runs after the engine.
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(thread_name_prefix="reelforge")
            )
        self._dispose_sqlite_engine()
        self._workflows = None
        self._system_database = None
        self.hook_dispatch.workflows = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        log.info("engine.stopped", executor_id=self.executor_id)

    def _dispose_sqlite_engine(self) -> None:
        if self._sqlite_engine is not None:
            self._sqlite_engine.dispose()
            self._sqlite_engine = None

    # -- what the service uses ---------------------------------------------------------------

    async def start_run(self, run_id: str, jobs: list[dict[str, Any]]) -> None:
        """Start driving a run: here when this process runs work, else through the runs queue
        (a worker picks it up). Starting a run twice drives it once.

        A feature's finish, itself a step of another run's workflow, may start a run (the next
        stage of a multi-stage feature). DBOS starts workflows from workflows and from outside
        any, never from a step, so the start runs in a context of its own: the run's workflow
        is a root workflow either way, and its id (from the run id) dedupes a second start."""
        workflows = self._require_launched()
        await asyncio.create_task(
            self._start_run_workflow(workflows, run_id, jobs), context=contextvars.Context()
        )

    async def _start_run_workflow(
        self, workflows: EngineWorkflows, run_id: str, jobs: list[dict[str, Any]]
    ) -> None:
        await self.ensure_queues({str(job["spec"]["provider"]) for job in jobs})

        async def start() -> None:
            # DBOS takes the id from the context with each start: set it for every try.
            with SetWorkflowID(run_workflow_id(run_id)):
                if self.executes:
                    await DBOS.start_workflow_async(workflows.run, run_id, jobs)
                else:
                    with SetEnqueueOptions(priority=1):
                        await DBOS.enqueue_workflow_async(RUNS_QUEUE, workflows.run, run_id, jobs)

        await _engine_call(start)

    async def start_retry_round(self, run_id: str, round_: int, jobs: list[dict[str, Any]]) -> None:
        """Start the workflow of a run's retry round (here, or through the runs queue), once:
        its id comes from the run and the round."""
        workflows = self._require_launched()
        await self.ensure_queues({str(job["spec"]["provider"]) for job in jobs})

        async def start() -> None:
            with SetWorkflowID(round_workflow_id(run_id, round_)):
                if self.executes:
                    await DBOS.start_workflow_async(workflows.retry_round, run_id, round_, jobs)
                else:
                    with SetEnqueueOptions(priority=1):
                        await DBOS.enqueue_workflow_async(
                            RUNS_QUEUE, workflows.retry_round, run_id, round_, jobs
                        )

        await asyncio.create_task(_engine_call(start), context=contextvars.Context())

    async def reprioritize(self, workflow_ids: list[str], priority: int) -> int:
        """Give the workflows still waiting on their queue (DBOS's ``ENQUEUED``) ``priority``;
        how many were. DBOS has no call for it, so this writes the column its dequeue orders
        by (:mod:`reelforge.engine.priorities`)."""
        system_database = self._client._sys_db if self._client else self._system_database
        if system_database is None:
            self._require_launched()
            return 0
        return await _engine_call(
            lambda: asyncio.to_thread(
                set_enqueued_priority, system_database, workflow_ids, priority
            )
        )

    async def cancel_workflows(self, workflow_ids: list[str]) -> None:
        client = self._client
        if client is not None:
            await _engine_call(lambda: client.cancel_workflows_async(workflow_ids))
        else:
            self._require_launched()
            await _engine_call(lambda: DBOS.cancel_workflows_async(workflow_ids))

    async def send(
        self, workflow_id: str, message: dict[str, Any], topic: str, idempotency_key: str
    ) -> None:
        client = self._client
        if client is not None:
            await _engine_call(
                lambda: client.send_async(
                    workflow_id, message, topic, idempotency_key=idempotency_key
                )
            )
        else:
            self._require_launched()
            await _engine_call(
                lambda: DBOS.send_async(
                    workflow_id, message, topic, idempotency_key=idempotency_key
                )
            )

    async def workflow_statuses(self, workflow_ids: list[str]) -> dict[str, str]:
        """DBOS's status of each known workflow (``PENDING``, ``SUCCESS``, ...)."""
        if self._client is None:
            self._require_launched()
        source = DBOS if self._client is None else self._client
        listed = await _engine_call(
            lambda: source.list_workflows_async(
                workflow_ids=workflow_ids, load_input=False, load_output=False
            )
        )
        return {status.workflow_id: status.status for status in listed}

    async def reap_once(self) -> list[str]:
        """One reaper pass now (the background loop does this every heartbeat)."""
        if self._reaper is None:
            return []
        return await self._reaper.reap_once()

    # -- plumbing ----------------------------------------------------------------------------

    def _require_launched(self) -> EngineWorkflows:
        if self._workflows is None:
            raise ConfigurationError(
                "The job engine is not running in this process: start it with "
                "`reelforge serve` or `reelforge worker`."
            )
        return self._workflows

    def _dbos_config(self) -> DBOSConfig:
        config: DBOSConfig = {
            "name": APP_NAME,
            "system_database_url": self.system_database_url,
            "executor_id": self.executor_id,
            "application_version": self.application_version,
            "notification_listener_polling_interval_sec": self.settings.notification_poll_s,
            "sys_db_pool_size": self.settings.sys_db_pool_size,
            "log_level": self.settings.dbos_log_level.upper(),
        }
        if self.mode == "embedded":
            self._sqlite_engine = sqlite_system_engine(
                self.system_database_url, self.settings.sys_db_pool_size
            )
            config["system_database_engine"] = self._sqlite_engine
        return config

    def _new_client(self) -> DBOSClient:
        if self.mode == "embedded":
            # Through the engine's SQLite driver, as the process running the engine writes.
            self._dispose_sqlite_engine()
            self._sqlite_engine = sqlite_system_engine(
                self.system_database_url, self.settings.sys_db_pool_size
            )
            try:
                return DBOSClient(
                    system_database_engine=self._sqlite_engine, application_name=APP_NAME
                )
            except BaseException:
                self._dispose_sqlite_engine()
                raise
        return DBOSClient(system_database_url=self.system_database_url, application_name=APP_NAME)

    async def _register_queues(self) -> None:
        # Every process polls every registered queue, a few queries a poll: the runs queue
        # exists only where runs are enqueued (scale-out), and each provider's queue comes
        # with the first run that uses the provider (ensure_queues), not for every provider.
        if self.hook_dispatch.workflows is not None:
            await _engine_call(
                lambda: DBOS.register_queue_async(
                    HOOKS_QUEUE,
                    polling_interval_sec=self.settings.queue_poll_s,
                    on_conflict="always_update",
                )
            )
        if self.mode == "scale_out":
            await _engine_call(
                lambda: DBOS.register_queue_async(
                    RUNS_QUEUE,
                    global_concurrency=self.settings.runs_concurrency,
                    polling_interval_sec=self.settings.queue_poll_s,
                    on_conflict="always_update",
                )
            )

    async def ensure_queues(self, provider_ids: set[str]) -> None:
        """Register the queues of these providers (with their limits) once per process."""
        for provider_id in sorted(provider_ids - self._queues):
            limits = self.settings.limits_for(provider_id)
            limiter: Any = (
                {"limit": limits.rate_limit, "period": limits.rate_period_s}
                if limits.rate_limit is not None
                else None
            )
            register = partial(
                DBOS.register_queue_async,
                provider_queue(provider_id),
                global_concurrency=limits.concurrency,
                worker_concurrency=limits.worker_concurrency,
                limiter=limiter,
                polling_interval_sec=self.settings.queue_poll_s,
                on_conflict="always_update",
            )
            await _engine_call(register)
            self._queues.add(provider_id)


def who_runs_work(config: EngineSettings, mode: EngineMode, role: EngineRole) -> tuple[bool, str]:
    """Whether a process in ``role`` runs work, and its executor id."""
    api_executes = config.api_executes
    if api_executes is None:
        api_executes = mode == "embedded"
    executes = role == "worker" or (role == "api" and api_executes)
    executor_id = (config.executor_id if executes else None) or default_executor_id(
        role, executes, os.getpid()
    )
    return executes, executor_id


def sqlite_system_engine(url: str, pool_size: int) -> sa.Engine:
    """DBOS's SQLite engine as DBOS builds it (IMMEDIATE transactions, a long busy timeout,
    foreign keys), in WAL mode with ``synchronous=NORMAL``: a commit costs no fsync, which
    makes a step several times cheaper, and a killed process still loses nothing committed
    (only a power cut could drop the last commits, which recovery then replays). Its driver
    is sqlean.py's, with a SQLite of its own (see :mod:`reelforge.engine.sqlite_support`)."""
    require_sqlite_for_dbos()
    engine = sa.create_engine(
        url, module=dbapi, pool_size=pool_size, max_overflow=0, pool_timeout=30
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = "IMMEDIATE"
        for pragma in (
            "busy_timeout=30000",
            "foreign_keys=ON",
            "journal_mode=WAL",
            "synchronous=NORMAL",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    return engine


def _sqlite_path(url: str) -> Path:
    return Path(str(make_url(url).database)).expanduser().resolve()
