"""The emulated Replicate provider: its endpoints, predictions, outputs, billing and webhooks
(the behaviour is described in :mod:`reelforge.emulator.replicate`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from reelforge.emulator.base import (
    Billing,
    EmulatedProvider,
    EmulatorContext,
    FaultAnswer,
    describe_image,
    file_url,
    json_body,
)
from reelforge.emulator.listings import replicate_predictions
from reelforge.emulator.media import ImageFormat
from reelforge.emulator.replicate import wire
from reelforge.emulator.signing import StandardWebhookSigner
from reelforge.emulator.state import FaultKind, FaultRule, Job, JobPhase
from reelforge.emulator.webhooks import WebhookDelivery

__all__ = ["DUMMY_KEY", "WEBHOOK_SECRET", "ReplicateEmulator"]

DUMMY_KEY = "r8_emulator-replicate-token"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"reelforge-emulator-replicate-hook").decode()
_KEPT_PREDICTIONS = 10_000
_PER_IMAGE = {
    "black-forest-labs/flux-dev": Decimal("0.025"),
    "black-forest-labs/flux-pro": Decimal("0.055"),
    "black-forest-labs/flux-1.1-pro": Decimal("0.04"),
    "black-forest-labs/flux-kontext-pro": Decimal("0.04"),
    "flux-kontext-apps/multi-image-kontext-pro": Decimal("0.08"),
}
#: The Kontext models' required image inputs, in order (their references).
_IMAGE_INPUTS = {
    "black-forest-labs/flux-kontext-pro": ("input_image",),
    "flux-kontext-apps/multi-image-kontext-pro": ("input_image_1", "input_image_2"),
}
_DEFAULT_RATE = _PER_IMAGE["black-forest-labs/flux-dev"]
_UNKNOWN_MODEL = "emulated/unknown"
_VERSION_ID = re.compile(r"^[0-9a-f]{64}$")
_NSFW = "All generated images contained NSFW content. Try running it again with a different prompt."


def _unauthorized() -> Response:
    return wire.problem(401, "Unauthenticated", "You did not pass a valid authentication token")


def _throttled(fault: FaultRule) -> Response:
    detail = f"Request was throttled. Your rate limit resets in ~{fault.retry_after:g}s."
    return wire.problem(429, "Request was throttled", detail)


_FAULT_ANSWERS: dict[FaultKind, FaultAnswer] = {
    FaultKind.HTTP_429: _throttled,
    FaultKind.INVALID_INPUT: lambda _: wire.invalid(
        "input.prompt", "required", "prompt is required"
    ),
    FaultKind.CONTENT_REJECTED: lambda _: wire.problem(
        422, "Input flagged", f"{wire.SENSITIVE} (E005)"
    ),
    FaultKind.HTTP_401: lambda _: _unauthorized(),
    FaultKind.HTTP_500: lambda _: wire.problem(
        500, "Internal Server Error", "Something went wrong."
    ),
    FaultKind.HTTP_503: lambda _: wire.problem(
        503, "Service Unavailable", "Replicate is temporarily unavailable."
    ),
    FaultKind.HANG: lambda _: wire.problem(504, "Gateway Timeout", "The request timed out."),
}


@dataclass(slots=True)
class _Prediction:
    """What the emulator knows of a prediction beyond its job."""

    version: str
    events: frozenset[str] | None
    aborted: bool = False
    deadline: asyncio.Task[None] | None = None


class ReplicateEmulator(EmulatedProvider):
    """Replicate's predictions API, ``Prefer: wait``, ``Cancel-After`` and signed webhooks."""

    id: ClassVar[str] = "replicate"
    fault_answers: ClassVar[Mapping[FaultKind, FaultAnswer]] = _FAULT_ANSWERS

    def __init__(self, context: EmulatorContext) -> None:
        super().__init__(context)
        self.signer = StandardWebhookSigner(WEBHOOK_SECRET)
        self._predictions: dict[str, _Prediction] = {}
        self._versions: dict[str, str] = {}

    @classmethod
    def environment(cls, base_url: str) -> dict[str, str]:
        return {
            "REELFORGE_PROVIDERS__REPLICATE__BASE_URL": f"{base_url}/replicate",
            "REPLICATE_API_TOKEN": DUMMY_KEY,
            "REPLICATE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def routes(self) -> Sequence[BaseRoute]:
        model = "/v1/models/{owner}/{name}"
        return [
            self.endpoint("/v1/predictions", "submit", self._create_by_version, methods=["POST"]),
            self.endpoint(
                f"{model}/predictions", "submit", self._create_by_model, methods=["POST"]
            ),
            self.endpoint("/v1/predictions", "list", self._list, methods=["GET"]),
            self.endpoint("/v1/predictions/{request_id}", "status", self._get, methods=["GET"]),
            self.endpoint(
                "/v1/predictions/{request_id}/cancel", "cancel", self._cancel, methods=["POST"]
            ),
            self.endpoint(model, "model", self._model, methods=["GET"]),
            self.endpoint(
                f"{model}/versions/{{version_id}}", "version", self._version, methods=["GET"]
            ),
            self.endpoint(
                "/v1/webhooks/default/secret", "webhook_secret", self._secret, methods=["GET"]
            ),
        ]

    def authenticate(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and bool(token.strip())

    def unauthorized_response(self) -> Response:
        return _unauthorized()

    def new_request_id(self) -> str:
        return base64.b32encode(uuid.uuid4().bytes).decode().lower().rstrip("=")

    # -- endpoints ---------------------------------------------------------------------------

    async def _create_by_version(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("version"), str):
            return wire.invalid("version", "required", "version is required")
        resolved = self._resolve_version(body["version"])
        if resolved is None:
            return wire.invalid("version", "invalid", "The specified version is not a version id")
        return await self._create(request, body, *resolved)

    async def _create_by_model(self, request: Request) -> Response:
        body = await json_body(request)
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        if not isinstance(body, dict):
            return wire.invalid("input", "required", "input is required")
        return await self._create(request, body, model, self._version_of(model))

    async def _create(
        self, request: Request, body: dict[str, Any], model: str, version: str
    ) -> Response:
        problem = wire.input_problem(body) or wire.images_problem(
            body["input"], _IMAGE_INPUTS.get(model, ())
        )
        if problem is not None:
            return problem
        deadline_s = wire.duration_s(request.headers.get("cancel-after"))
        if request.headers.get("cancel-after") and deadline_s is None:
            return wire.problem(400, "Invalid Cancel-After", "Use a duration such as 30s or 5m.")
        events = body.get("webhook_events_filter")
        job = self.new_job(
            request, model, body["input"], webhook_url=body.get("webhook"), route="predictions"
        )
        prediction = _Prediction(version, frozenset(events) if events is not None else None)
        self._remember(job.request_id, prediction)
        self.start_job(job)
        if deadline_s is not None:
            self._arm_deadline(job, prediction, deadline_s)
        wait_s = wire.prefer_wait(request.headers.get("prefer"))
        if wait_s is None:
            return JSONResponse(self._body(job), status_code=201)
        loop = asyncio.get_running_loop()
        until = loop.time() + wait_s
        # Polled: the job's task also covers its webhook delivery, which this answer skips.
        while not job.done and loop.time() < until:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        answer = self._body(job, inline=True)
        if not job.done:
            answer["status"] = "starting"
        return JSONResponse(answer, status_code=201, headers={"Preference-Applied": "wait"})

    async def _get(self, request: Request) -> Response:
        job = self._find(request)
        if job is None:
            return wire.problem(404, "Not found", "The requested resource could not be found.")
        return JSONResponse(self._body(job))

    async def _list(self, request: Request) -> Response:
        jobs = (job for job in self.state.jobs.values() if job.provider == self.id)
        return replicate_predictions(request, jobs, self.state.config, self._body, wire.problem)

    async def _cancel(self, request: Request) -> Response:
        job = self._find(request)
        if job is None:
            return wire.problem(404, "Not found", "The requested resource could not be found.")
        self.cancel_job(job)
        return JSONResponse(self._body(job))

    async def _model(self, request: Request) -> Response:
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        origin = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse(
            {
                "url": f"{origin}/replicate/v1/models/{model}",
                "owner": request.path_params["owner"],
                "name": request.path_params["name"],
                "description": "An emulated image model.",
                "visibility": "public",
                "github_url": None,
                "paper_url": None,
                "license_url": None,
                "run_count": 0,
                "cover_image_url": None,
                "default_example": None,
                "latest_version": wire.version_object(self._version_of(model)),
            }
        )

    async def _version(self, request: Request) -> Response:
        model = f"{request.path_params['owner']}/{request.path_params['name']}"
        version = request.path_params["version_id"]
        if self._version_of(model) != version and self._versions.get(version) != model:
            return wire.problem(404, "Not found", "The requested resource could not be found.")
        return JSONResponse(wire.version_object(version))

    async def _secret(self, _request: Request) -> Response:
        return JSONResponse({"key": self.signer.secret})

    # -- jobs --------------------------------------------------------------------------------

    async def produce(self, job: Job) -> dict[str, Any]:
        args = job.arguments
        width, height = wire.image_size(args)
        image_format: ImageFormat = "jpeg" if args.get("output_format") == "jpg" else "png"
        still = await self.media.image(width, height, image_format)
        seed = args.get("seed")
        if not isinstance(seed, int):
            seed = int.from_bytes(hashlib.sha256(job.request_id.encode()).digest()[:4], "big")
        job.logs.append({"message": f"Using seed: {seed}"})
        return {"files": [still.name] * wire.num_outputs(args), "seed": seed}

    def references(self, model: str, arguments: Any) -> list[dict[str, Any]]:
        fields = _IMAGE_INPUTS.get(model, ())
        return [describe_image(arguments.get(field)) for field in fields if field in arguments]

    def bill(self, job: Job) -> Billing:
        count = wire.num_outputs(job.arguments)
        rate = _PER_IMAGE.get(job.model, _DEFAULT_RATE)
        return Billing(count, "image", rate * count)

    def webhook_delivery(self, job: Job) -> WebhookDelivery | None:
        prediction = self._predictions.get(job.request_id)
        if job.webhook_url is None or job.phase is not JobPhase.COMPLETED or prediction is None:
            return None
        if prediction.events is not None and "completed" not in prediction.events:
            return None
        return WebhookDelivery(
            provider=self.id,
            request_id=job.request_id,
            url=job.webhook_url,
            body=json.dumps(self._body(job)).encode(),
            signer=self.signer,
        )

    # -- helpers -----------------------------------------------------------------------------

    def _body(self, job: Job, *, inline: bool = False) -> dict[str, Any]:
        """The prediction object; ``inline`` gives outputs as data URIs (sync mode)."""
        prediction = self._predictions.get(job.request_id)
        get_url = f"{job.origin}/replicate/v1/predictions/{job.request_id}"
        body: dict[str, Any] = {
            "id": job.request_id,
            "model": job.model,
            "version": prediction.version if prediction else self._version_of(job.model),
            "input": job.arguments,
            "logs": "\n".join(str(line.get("message", "")) for line in job.logs),
            "output": None,
            "error": None,
            "status": self._status(job, prediction),
            "source": "api",
            "data_removed": False,
            "created_at": wire.iso(job.created_at),
            "started_at": wire.iso(job.started_at),
            "completed_at": wire.iso(job.finished_at),
            "urls": {"get": get_url, "cancel": f"{get_url}/cancel", "web": get_url},
        }
        if job.phase is JobPhase.COMPLETED and job.error is None and job.output is not None:
            body["output"] = self._output(job, inline=inline)
        elif job.error is FaultKind.CONTENT_REJECTED:
            body["error"] = _NSFW
        elif job.error is not None:
            body["error"] = "Prediction interrupted; please retry (code: PA)"
        if job.done:
            total = (job.finished_at or job.created_at) - job.created_at
            body["metrics"] = {"predict_time": job.inference_time_s, "total_time": round(total, 3)}
        return body

    def _status(self, job: Job, prediction: _Prediction | None) -> str:
        if job.phase is JobPhase.QUEUED:
            return "starting"
        if job.phase is JobPhase.RUNNING:
            return "processing"
        if job.phase is JobPhase.CANCELED:
            return "aborted" if prediction is not None and prediction.aborted else "canceled"
        return "failed" if job.error is not None else "succeeded"

    def _output(self, job: Job, *, inline: bool) -> Any:
        assert job.output is not None
        urls = []
        for name in job.output["files"]:
            found = self.media.get(name) if inline else None
            if found is None:
                urls.append(file_url(job, name))
            else:
                encoded = base64.b64encode(found.data).decode()
                urls.append(f"data:{found.content_type};base64,{encoded}")
        single = any(marker in job.model for marker in ("-pro", "ultra"))
        return urls[0] if single else urls

    def _find(self, request: Request) -> Job | None:
        job = self.state.jobs.get(request.path_params["request_id"])
        return job if job is not None and job.provider == self.id else None

    def _remember(self, request_id: str, prediction: _Prediction) -> None:
        self._predictions[request_id] = prediction
        if len(self._predictions) > _KEPT_PREDICTIONS:
            kept = self.state.jobs
            self._predictions = {k: v for k, v in self._predictions.items() if k in kept}

    def _arm_deadline(self, job: Job, prediction: _Prediction, seconds: float) -> None:
        async def expire() -> None:
            await asyncio.sleep(seconds)
            if not job.done:
                prediction.aborted = job.phase is JobPhase.QUEUED
                self.cancel_job(job)

        prediction.deadline = asyncio.create_task(expire())
        if job.task is not None:
            deadline = prediction.deadline
            job.task.add_done_callback(lambda _task: deadline.cancel())

    def _version_of(self, model: str) -> str:
        version = hashlib.sha256(model.encode()).hexdigest()
        self._versions.setdefault(version, model)
        return version

    def _resolve_version(self, ref: str) -> tuple[str, str] | None:
        """(model, version id) for a ``version`` field, or None if it names none."""
        name, _, version = ref.partition(":")
        if version and "/" in name and _VERSION_ID.fullmatch(version):
            self._versions.setdefault(version, name)
            return name, version
        if _VERSION_ID.fullmatch(ref):
            return self._versions.get(ref, _UNKNOWN_MODEL), ref
        if not version and name.count("/") == 1 and all(name.split("/")):
            return name, self._version_of(name)
        return None
