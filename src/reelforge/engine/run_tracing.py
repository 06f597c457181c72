"""Runs and jobs in a trace: the run's span, each job's span and its steps', and the trace id
bound to every log line of the work (:mod:`reelforge.tracing`).

- :func:`run_span`: when a run starts, a span ``run <feature>`` (child of the request's, or
  the first of the caller's own trace) covering its recording and enqueueing; its
  ``traceparent`` is recorded on the run and carried by each job.
- :class:`JobSpans`: when a job ends (a committed change to a final status, heard once, by
  whichever process made it), its span ``job <provider>``, from its creation to its end, child
  of the run's span, under the span id its id fixes (:func:`~reelforge.tracing.span_id_for`).
- :class:`TracedSteps`: each step of a job (``job.submit``, ``job.poll``, ``job.ingest``...)
  as a span, child of its job's, with the provider calls and the ingest it makes under it; and
  of a run (``run.begin``, ``run.finish``). The step's log lines carry the trace id, the run id
  and the job id; so do the workflow's own (:meth:`StepTraces.bound_job`,
  :meth:`StepTraces.bound_run`).

Workers are other processes: a job's trace context is read from the catalog (the job's
``traceparent``), once per job and process.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Status, StatusCode

from reelforge.catalog import Catalog
from reelforge.catalog.records import JobRecord
from reelforge.errors import ReelforgeError
from reelforge.tracing import (
    Tracing,
    bind_trace,
    context_of,
    span_id_for,
    trace_id_of,
    traceparent_of,
)

__all__ = ["JobSpans", "StepTraces", "TracedSteps", "WorkTrace", "run_span"]

#: The job steps of :class:`~reelforge.engine.operations.JobOperations` (their first argument
#: is the job id) and the run steps (the run id), with their spans' names.
JOB_STEPS = {
    name: f"job.{name}"
    for name in (
        "submit",
        "run_inline",
        "poll",
        "fetch",
        "ingest",
        "output_retry",
        "fail",
        "retrying",
        "mark_pending",
        "stop_at_provider",
        "cancel_job",
    )
} | {"succeed": "job.record"}
RUN_STEPS = {"begin_run": "run.begin", "finish_run": "run.finish"}
# Trace contexts remembered per process (a job's never changes).
_REMEMBERED = 4096


@contextmanager
def run_span(tracing: Tracing, feature: str, trace_id: str | None) -> Iterator[str | None]:
    """The run's span for the block; yields its ``traceparent`` (see the module docstring),
    with its trace id bound to the block's log lines."""
    current = trace.get_current_span().get_span_context()
    parent: Context | None = None
    chosen: int | None = None
    links: list[Link] = []
    if trace_id is not None and (not current.is_valid or f"{current.trace_id:032x}" != trace_id):
        # The caller's own trace: the run starts it, linked to the request that asked.
        parent, chosen = Context(), int(trace_id, 16)
        links = [Link(current)] if current.is_valid else []
    with tracing.span(
        f"run {feature}",
        parent=parent,
        trace_id=chosen,
        links=links,
        attributes={"reelforge.feature": feature},
    ) as span:
        traceparent = traceparent_of(span)
        with bind_trace(trace_id_of(traceparent)):
            yield traceparent


def _ns(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000_000)


class JobSpans:
    """Writes a job's span when it ends (a catalog
    :class:`~reelforge.catalog.repositories.JobStatusObserver`)."""

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing

    def job_status_changed(self, previous: str, job: JobRecord, feature: str | None) -> None:
        if not self._tracing.exporting or not job.is_terminal:
            return
        parent = context_of(job.traceparent)
        if parent is None:
            return
        attributes: dict[str, Any] = {
            "reelforge.job_id": job.id,
            "reelforge.provider": job.provider,
            "reelforge.model": job.model,
            "reelforge.capability": job.capability,
            "reelforge.status": job.status,
            "reelforge.attempts": job.attempts,
        }
        if job.run_id is not None:
            attributes["reelforge.run_id"] = job.run_id
        if feature is not None:
            attributes["reelforge.feature"] = feature
        if job.cost_usd is not None:
            attributes["reelforge.cost_usd"] = float(job.cost_usd)
        span = self._tracing.start_span(
            f"job {job.provider}",
            parent=parent,
            attributes=attributes,
            start_time_ns=_ns(job.created_at),
            span_id=span_id_for(job.id),
        )
        if job.status == "failed":
            span.set_status(Status(StatusCode.ERROR, job.error_code or "failed"))
        span.end(end_time=_ns(job.finished_at or job.updated_at))


class JobObservers:
    """Several :class:`~reelforge.catalog.repositories.JobStatusObserver` as one."""

    def __init__(self, *observers: Any) -> None:
        self._observers = observers

    def job_status_changed(self, previous: str, job: JobRecord, feature: str | None) -> None:
        for observer in self._observers:
            observer.job_status_changed(previous, job, feature)


@dataclass(frozen=True, slots=True)
class WorkTrace:
    """A job's or run's trace context, as the catalog has it."""

    traceparent: str | None = None
    run_id: str | None = None

    @property
    def trace_id(self) -> str | None:
        return trace_id_of(self.traceparent)


class StepTraces:
    """Trace contexts of jobs and runs, read from the catalog once per process."""

    def __init__(self, tracing: Tracing, catalog: Catalog) -> None:
        self.tracing = tracing
        self._catalog = catalog
        self._known: OrderedDict[str, WorkTrace] = OrderedDict()

    async def of_job(self, job_id: str) -> WorkTrace:
        async def read() -> WorkTrace:
            job = await self._catalog.jobs.get(job_id)
            return WorkTrace(job.traceparent, job.run_id)

        return await self._remembered(f"job:{job_id}", read)

    async def of_run(self, run_id: str) -> WorkTrace:
        async def read() -> WorkTrace:
            return WorkTrace((await self._catalog.runs.get(run_id)).traceparent, run_id)

        return await self._remembered(f"run:{run_id}", read)

    async def _remembered(self, key: str, read: Any) -> WorkTrace:
        known = self._known.get(key)
        if known is not None:
            return known
        try:
            found: WorkTrace = await read()
        except ReelforgeError:
            # Logs and spans are best effort: the step itself reports what is wrong.
            return WorkTrace()
        self._known[key] = found
        if len(self._known) > _REMEMBERED:
            self._known.popitem(last=False)
        return found

    @asynccontextmanager
    async def bound_job(self, job_id: str) -> AsyncIterator[WorkTrace]:
        """The job's trace id, run id and id on every log line of the block."""
        work = await self.of_job(job_id)
        with bind_trace(work.trace_id, run_id=work.run_id, job_id=job_id):
            yield work

    @asynccontextmanager
    async def bound_run(self, run_id: str) -> AsyncIterator[WorkTrace]:
        """The run's trace id and id on every log line of the block."""
        work = await self.of_run(run_id)
        with bind_trace(work.trace_id, run_id=run_id):
            yield work

    @asynccontextmanager
    async def job_step(self, name: str, job_id: str) -> AsyncIterator[None]:
        async with self.bound_job(job_id) as work:
            exporting = self.tracing.exporting
            parent = (
                context_of(work.traceparent, span_id=span_id_for(job_id)) if exporting else None
            )
            if parent is None:
                yield
                return
            attributes = {"reelforge.job_id": job_id}
            with self.tracing.span(name, parent=parent, attributes=attributes):
                yield

    @asynccontextmanager
    async def run_step(self, name: str, run_id: str) -> AsyncIterator[None]:
        async with self.bound_run(run_id) as work:
            parent = context_of(work.traceparent) if self.tracing.exporting else None
            if parent is None:
                yield
                return
            attributes = {"reelforge.run_id": run_id}
            with self.tracing.span(name, parent=parent, attributes=attributes):
                yield


class TracedSteps:
    """The step methods of ``operations`` (:data:`JOB_STEPS`, :data:`RUN_STEPS`), each in its
    span with its trace bound to its log lines; anything else of it, as it is."""

    def __init__(self, operations: object, traces: StepTraces) -> None:
        self._operations = operations
        self._traces = traces

    def __getattr__(self, name: str) -> Any:
        member = getattr(self._operations, name)
        step: Callable[[str, str], AbstractAsyncContextManager[None]]
        if name in JOB_STEPS:
            step, span_name = self._traces.job_step, JOB_STEPS[name]
        elif name in RUN_STEPS:
            step, span_name = self._traces.run_step, RUN_STEPS[name]
        else:
            return member

        @functools.wraps(member)
        async def traced(record_id: str, *args: Any, **kwargs: Any) -> Any:
            async with step(span_name, record_id):
                return await member(record_id, *args, **kwargs)

        return traced
