"""What an emulated provider is, and the machinery every one of them shares.

A provider module subclasses :class:`EmulatedProvider` and supplies the vendor's wire format:
its routes (mounted under ``/{id}``), how a fault looks in its dialect (:attr:`fault_answers`),
what a finished job returns (:meth:`produce`), what it costs (:meth:`bill`) and, if the vendor
calls back, the callback body and signer (:meth:`webhook_delivery`). The base class does the
rest: per-call latency, authentication, fault injection and ledger records for each endpoint
(:meth:`endpoint`; an accept call named in :attr:`accept_operations` may also be held after it
was served, the ``hold_accept`` fault), and the queued job's life on the clock
(:meth:`start_job`), with billing and webhooks at the end.

Adding a provider (``fal.py`` is the worked example):

1. ``emulator/<id>.py``: ``class <Name>Emulator(EmulatedProvider)`` with ``id = "<id>"`` (the
   adapter's id: the app mounts it at ``/<id>``), ``routes()`` built with :meth:`endpoint`
   (one operation name per endpoint: the name fault rules and the ledger use), the names of its
   accept calls (``accept_operations``: submits and synchronous generate calls), ``produce``
   (outputs from ``self.media``, URLs from :func:`file_url`, which carry the provider and job so
   that file faults hit the right provider), ``bill``; a listing of past jobs, if the vendor
   documents one (see :mod:`.listings`); override
   ``authenticate`` / ``unauthorized_response`` for the vendor's auth, ``fault_answers`` (a table:
   fault kind -> the vendor's error body; kinds it leaves out get :data:`FAULT_STATUS` with a
   generic body, and every 429 gets ``Retry-After``), ``webhook_delivery`` with a
   :class:`~reelforge.emulator.signing.WebhookSigner` (add the scheme to ``signing.py``) if it
   calls back, and ``environment(base_url)`` for
   ``--print-env`` (the adapter's ``REELFORGE_PROVIDERS__<ID>__BASE_URL`` and a dummy key).
2. Add the class to ``EMULATED_PROVIDERS`` in ``emulator/providers.py``.
3. Add a ``ProviderCase`` to ``tests/providers/contract/contract_cases.py``.

Submit handlers call :meth:`new_job` then :meth:`start_job`; synchronous endpoints call
:meth:`new_job` then :meth:`run_inline`. Job and fault state is in :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from reelforge.emulator.media import MediaLibrary
from reelforge.emulator.state import (
    BilledGeneration,
    EmulatorState,
    FaultFamily,
    FaultKind,
    FaultRule,
    Job,
    JobPhase,
    ReceivedRequest,
)
from reelforge.emulator.webhooks import WebhookDelivery, WebhookSender
from reelforge.log import get_logger

__all__ = [
    "FAULT_STATUS",
    "Billing",
    "EmulatedProvider",
    "EmulatorContext",
    "FaultAnswer",
    "Handler",
    "JobFailure",
    "describe_bytes",
    "describe_image",
]

log = get_logger(__name__)

#: A vendor's answer to one injected HTTP fault, in its own dialect.
FaultAnswer: TypeAlias = Callable[[FaultRule], Response]
#: The status each injected HTTP fault answers with, whatever the vendor (its table may differ).
FAULT_STATUS: Mapping[FaultKind, int] = MappingProxyType(
    {
        FaultKind.HTTP_500: 500,
        FaultKind.HTTP_503: 503,
        FaultKind.HTTP_429: 429,
        FaultKind.HTTP_401: 401,
        FaultKind.HANG: 504,
        FaultKind.INVALID_INPUT: 422,
        FaultKind.CONTENT_REJECTED: 422,
    }
)

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(slots=True)
class EmulatorContext:
    """What every emulated provider shares; built once per emulator app."""

    state: EmulatorState
    media: MediaLibrary
    webhooks: WebhookSender | None = None


@dataclass(frozen=True, slots=True)
class Billing:
    """What one finished generation is billed (units of the vendor's price unit)."""

    units: float
    unit: str
    amount_usd: Decimal


class JobFailure(Exception):
    """Raised by :meth:`EmulatedProvider.produce` to end a job as failed with ``kind``."""

    def __init__(self, kind: FaultKind) -> None:
        super().__init__(kind.value)
        self.kind = kind


class EmulatedProvider(ABC):
    """One vendor's wire format on loopback. Subclasses live in ``emulator/<id>.py``."""

    id: ClassVar[str]
    #: The vendor's error body for each HTTP fault kind it words its own way.
    fault_answers: ClassVar[Mapping[FaultKind, FaultAnswer]] = MappingProxyType({})
    #: The operations that accept a job (submits, synchronous generate calls): the calls a
    #: ``hold_accept`` fault holds once they have been served.
    accept_operations: ClassVar[frozenset[str]] = frozenset({"submit"})

    def __init__(self, context: EmulatorContext) -> None:
        self.context = context
        self.state = context.state
        self.media = context.media

    @classmethod
    def environment(cls, base_url: str) -> dict[str, str]:
        """Environment lines pointing Reelforge's adapter at this emulator (``--print-env``)."""
        return {}

    @abstractmethod
    def routes(self) -> Sequence[BaseRoute]:
        """The vendor's endpoints, relative to the mount point ``/{id}``."""

    @abstractmethod
    async def produce(self, job: Job) -> dict[str, Any]:
        """The finished job's output body (may raise :class:`JobFailure`)."""

    @abstractmethod
    def bill(self, job: Job) -> Billing:
        """What a successful ``job`` costs."""

    def webhook_delivery(self, job: Job) -> WebhookDelivery | None:
        """The callback for a finished job that asked for one; None: the vendor sends none."""
        return None

    def references(self, model: str, arguments: Any) -> list[dict[str, Any]]:
        """The reference images a job's body carries, in the vendor's wire format, each
        described by :func:`describe_image` (recorded in the ledger's ``received``); the base
        finds none."""
        return []

    def authenticate(self, request: Request) -> bool:
        """Whether the call carries a credential in the vendor's form (any value will do)."""
        return True

    def fault_response(self, fault: FaultRule) -> Response:
        """An injected HTTP fault: the vendor's answer from :attr:`fault_answers`, else the
        generic one; a 429 always says when to retry."""
        answer = self.fault_answers.get(fault.kind)
        response = answer(fault) if answer is not None else _generic_fault(fault)
        if response.status_code == 429 and "retry-after" not in response.headers:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response

    def unauthorized_response(self) -> Response:
        return JSONResponse({"detail": "Unauthorized"}, status_code=401)

    def new_request_id(self) -> str:
        return str(uuid.uuid4())

    # -- endpoints ---------------------------------------------------------------------------

    def endpoint(
        self,
        path: str,
        operation: str,
        handler: Handler,
        *,
        methods: Sequence[str],
        public: bool = False,
    ) -> Route:
        """A route whose calls get latency, auth, faults and a ledger record."""

        async def serve(request: Request) -> Response:
            return await self._serve(request, operation, handler, public)

        return Route(path, serve, methods=list(methods), name=f"{self.id}.{operation}")

    async def _serve(
        self, request: Request, operation: str, handler: Handler, public: bool
    ) -> Response:
        delay = self.state.config.request_latency_s
        if delay:
            await asyncio.sleep(delay)
        fault: FaultRule | None = None
        client_gone: bool | None = None
        if not public and not self.authenticate(request):
            response = self.unauthorized_response()
        else:
            fault = self.state.take_fault(self.id, operation, FaultFamily.HTTP)
            if fault is None:
                response = await handler(request)
                fault = self._hold_rule(operation, response)
                if fault is not None:
                    held = self.state.config.hang_s if fault.delay_s is None else fault.delay_s
                    self.state.hold(self.id, True)
                    try:
                        client_gone = await _hang(request, held)
                    finally:
                        self.state.hold(self.id, False)
            else:
                if fault.kind is FaultKind.HANG:
                    await _hang(request, fault.delay_s or self.state.config.hang_s)
                response = self.fault_response(fault)
        self.state.record_call(
            self.id,
            operation,
            request.method,
            request.url.path,
            response.status_code,
            request_id=request.path_params.get("request_id")
            or getattr(request.state, "request_id", None),
            fault=fault.kind.value if fault else None,
            client_gone=client_gone,
        )
        return response

    def _hold_rule(self, operation: str, response: Response) -> FaultRule | None:
        """The hold_accept rule for an accept call that accepted its job, spending one shot."""
        if operation not in self.accept_operations or response.status_code >= 300:
            return None
        return self.state.take_fault(self.id, operation, FaultFamily.ACCEPT)

    # -- jobs --------------------------------------------------------------------------------

    def new_job(
        self,
        request: Request,
        model: str,
        arguments: dict[str, Any],
        *,
        webhook_url: str | None = None,
        route: str = "",
    ) -> Job:
        job = Job(
            provider=self.id,
            request_id=self.new_request_id(),
            model=model,
            arguments=arguments,
            origin=origin_of(request),
            created_at=self.state.clock(),
            webhook_url=webhook_url,
            route=route,
        )
        request.state.request_id = job.request_id
        self.state.receive(
            ReceivedRequest(
                job.created_at,
                self.id,
                job.request_id,
                model,
                tuple(self.references(model, arguments)),
            )
        )
        self.state.add_job(job)
        self.state.job_started(job)
        return job

    def start_job(self, job: Job) -> None:
        """Run ``job`` in the background: queued, then running, then finished on the clock."""
        job.task = asyncio.create_task(
            self._run(job, queued=True), name=f"emulator-{self.id}-{job.request_id}"
        )

    async def run_inline(self, job: Job) -> None:
        """Run ``job`` to its end in the caller (a synchronous endpoint)."""
        await self._run(job, queued=False)

    def cancel_job(self, job: Job) -> None:
        if job.done:
            return
        job.phase = JobPhase.CANCELED
        job.finished_at = self.state.clock()
        if job.task is not None:
            job.task.cancel()
        log.info("emulator.job.canceled", provider=self.id, request_id=job.request_id)

    async def _run(self, job: Job, *, queued: bool) -> None:
        config = self.state.config
        queue_s = min(config.queue_s, config.latency_s) if queued else 0.0
        try:
            await asyncio.sleep(queue_s)
            job.phase = JobPhase.RUNNING
            job.started_at = self.state.clock()
            job.logs.append(_log_line("Starting generation", job.started_at))
            await asyncio.sleep(max(config.latency_s - queue_s, 0.0))
            await self._finish(job)
        finally:
            self.state.job_ended(job)
        delivery = self.webhook_delivery(job) if job.webhook_url else None
        if delivery is not None and self.context.webhooks is not None:
            await self.context.webhooks.send(delivery)

    async def _finish(self, job: Job) -> None:
        fault = self.state.take_fault(self.id, "generate", FaultFamily.JOB)
        if fault is not None:
            job.error = fault.kind
        else:
            try:
                job.output = await self.produce(job)
            except JobFailure as failure:
                job.error = failure.kind
            except Exception:
                log.exception("emulator.job.crashed", provider=self.id, request_id=job.request_id)
                job.error = FaultKind.FAILED
        if job.phase is JobPhase.CANCELED:
            return
        job.finished_at = self.state.clock()
        job.phase = JobPhase.COMPLETED
        if job.error is None:
            billing = self.bill(job)
            self.state.bill(
                BilledGeneration(
                    job.finished_at,
                    self.id,
                    job.request_id,
                    job.model,
                    billing.units,
                    billing.unit,
                    billing.amount_usd,
                )
            )
        job.logs.append(_log_line("Generation finished", job.finished_at))
        log.info(
            "emulator.job.finished",
            provider=self.id,
            request_id=job.request_id,
            model=job.model,
            error=job.error,
        )


def describe_image(value: Any, content_type: str | None = None) -> dict[str, Any]:
    """A reference image as the ledger shows it: an inline one (a ``data:`` URI, or base64 with
    its ``content_type``) by the sha256 and size of its bytes, one given by address by its URL;
    something that is neither, as ``{"unreadable": <type>}``."""
    if not isinstance(value, str):
        return {"unreadable": type(value).__name__}
    if value[:5].lower() == "data:":
        header, _, value = value.partition(",")
        content_type = header[5:].split(";")[0] or None
    elif content_type is None:
        return {"url": value}
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return {"unreadable": "base64"}
    return describe_bytes(data, content_type)


def describe_bytes(data: bytes, content_type: str | None) -> dict[str, Any]:
    """An image received as bytes (an upload), as the ledger shows a reference."""
    digest = hashlib.sha256(data).hexdigest()
    return {"sha256": digest, "content_type": content_type, "bytes": len(data)}


def origin_of(request: Request) -> str:
    """``scheme://host:port`` as the client addressed us, for URLs we hand back."""
    return f"{request.url.scheme}://{request.url.netloc}"


def file_url(job: Job, name: str) -> str:
    """The URL of media file ``name`` as ``job``'s output: the provider and job ride in the path,
    so that the file route knows whose file faults apply and the ledger names the job."""
    return f"{job.origin}/_emulator/files/{job.provider}/{job.request_id}/{name}"


async def json_body(request: Request) -> Any:
    """The request's JSON, or None when it is not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


async def _hang(request: Request, seconds: float) -> bool:
    """Hold the response for ``seconds``, or until the client gives up; whether it gave up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(min(0.1, max(deadline - loop.time(), 0.0)))
    return False


def _log_line(message: str, at: float) -> dict[str, Any]:
    return {
        "message": message,
        "level": "INFO",
        "source": "USER",
        "timestamp": datetime.fromtimestamp(at, UTC).isoformat(),
    }


def _generic_fault(fault: FaultRule) -> Response:
    if fault.kind is FaultKind.MALFORMED_JSON:
        return Response(b'{"id": "truncated', media_type="application/json")
    status = FAULT_STATUS.get(fault.kind, 500)
    return JSONResponse({"detail": fault.kind.value}, status_code=status)
