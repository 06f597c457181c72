"""fal.ai's wire format on loopback: the queue host, the sync host and the webhook key set.

Mounted at ``/fal``: ``/fal/queue`` stands for ``https://queue.fal.run``, ``/fal/run`` for
``https://fal.run``, ``/fal/api`` for fal's platform API ``https://api.fal.ai`` (its request
listing, ``GET /fal/api/v1/models/requests/by-endpoint``, operation ``list_requests``: see
:mod:`reelforge.emulator.listings`) and ``/fal/rest/.well-known/jwks.json`` for fal's JWKS.
Accept calls (for ``hold_accept``): ``submit`` and ``run``. Shapes follow the
provider reference (§1): submit answers ``request_id`` and the three URLs; status answers 202
with ``IN_QUEUE`` (``queue_position``) or ``IN_PROGRESS`` (``logs``), then 200 with
``COMPLETED`` (``logs``, ``metrics.inference_time``, and ``error``/``error_type`` for a failed
request); the result is the model's output JSON; cancel answers ``CANCELLATION_REQUESTED`` (202),
``ALREADY_COMPLETED`` (400) or ``NOT_FOUND`` (404). Images are ``{"images": [File...]}`` (flux),
videos ``{"video": File}`` (veo, kling), with URLs on ``/_emulator/files``; ``sync_mode`` gives
data URIs instead. FLUX Kontext multi (``fal-ai/flux-pro/kontext/multi``) requires
``image_urls`` (fal's 422 without it) and sizes its output by ``aspect_ratio`` (about one
megapixel); its ``image_urls`` are the job's reference images in the ledger's ``received``.

Where fal's behaviour is not documented the emulator picks something plausible, and adapters must
not lean on more than fal_client does: a canceled request reports ``COMPLETED`` with
``error_type: "request_cancelled"``; a result fetched early gets 400; a content rejection inside a
queued job reports ``COMPLETED`` with ``error_type: "content_policy_violation"`` and its result is
fal's 422 model error (``detail[].type == "content_policy_violation"``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
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
from reelforge.emulator.fal_models import (
    app_path,
    bill,
    duration_s,
    image_size,
    is_video,
    num_images,
    required_inputs,
    video_size,
)
from reelforge.emulator.listings import fal_requests
from reelforge.emulator.media import ImageFormat, MediaFile
from reelforge.emulator.signing import FalWebhookSigner
from reelforge.emulator.state import FaultKind, Job, JobPhase
from reelforge.emulator.webhooks import WebhookDelivery

__all__ = ["FalEmulator"]

DUMMY_KEY = "emulator-fal-key"
_CONTENT_MSG = (
    "The content could not be processed because it contained material flagged by a content checker."
)
_CONTENT_DETAIL = {
    "loc": ["body", "prompt"],
    "msg": _CONTENT_MSG,
    "type": "content_policy_violation",
    "url": "https://docs.fal.ai/errors#content_policy_violation",
}
_INGRESS_503 = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
    "<h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>"
)
_INVALID_DETAIL = [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]
_FAULT_ANSWERS: dict[FaultKind, FaultAnswer] = {
    FaultKind.HTTP_503: lambda _: Response(_INGRESS_503, status_code=503, media_type="text/html"),
    FaultKind.HTTP_429: lambda _: JSONResponse(
        {"detail": "Concurrent request limit reached."}, status_code=429
    ),
    FaultKind.HANG: lambda _: _request_error(504, "Request timed out", "request_timeout"),
    FaultKind.INVALID_INPUT: lambda _: JSONResponse({"detail": _INVALID_DETAIL}, status_code=422),
    FaultKind.CONTENT_REJECTED: lambda _: _content_rejected(),
    FaultKind.HTTP_500: lambda _: JSONResponse(
        {"detail": "Internal Server Error"}, status_code=500
    ),
    FaultKind.HTTP_401: lambda _: JSONResponse({"detail": "Invalid key."}, status_code=401),
}


class FalEmulator(EmulatedProvider):
    """fal's queue and sync endpoints, signed webhooks and JWKS."""

    id: ClassVar[str] = "fal"
    fault_answers: ClassVar[Mapping[FaultKind, FaultAnswer]] = _FAULT_ANSWERS
    accept_operations: ClassVar[frozenset[str]] = frozenset({"submit", "run"})

    def __init__(self, context: EmulatorContext) -> None:
        super().__init__(context)
        self.signer = FalWebhookSigner.generate()

    @classmethod
    def environment(cls, base_url: str) -> dict[str, str]:
        return {"REELFORGE_PROVIDERS__FAL__BASE_URL": f"{base_url}/fal", "FAL_KEY": DUMMY_KEY}

    def routes(self) -> Sequence[BaseRoute]:
        requests = "/queue/{app_path:path}/requests/{request_id}"
        return [
            self.endpoint(f"{requests}/status", "status", self._status, methods=["GET"]),
            self.endpoint(f"{requests}/cancel", "cancel", self._cancel, methods=["PUT"]),
            self.endpoint(requests, "result", self._result, methods=["GET"]),
            self.endpoint("/queue/{model_id:path}", "submit", self._submit, methods=["POST"]),
            self.endpoint("/run/{model_id:path}", "run", self._run_sync, methods=["POST"]),
            self.endpoint(
                "/api/v1/models/requests/by-endpoint",
                "list_requests",
                self._list_requests,
                methods=["GET"],
            ),
            self.endpoint(
                "/rest/.well-known/jwks.json", "jwks", self._jwks, methods=["GET"], public=True
            ),
        ]

    def authenticate(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme == "Key" and bool(key.strip())

    def unauthorized_response(self) -> Response:
        return JSONResponse(
            {"detail": "No valid credentials: send 'Authorization: Key <key>'."}, status_code=401
        )

    # -- endpoints ---------------------------------------------------------------------------

    async def _submit(self, request: Request) -> Response:
        model = request.path_params["model_id"]
        arguments = await json_body(request)
        problem = _input_problem(model, arguments)
        if problem is not None:
            return problem
        job = self.new_job(
            request,
            model,
            arguments,
            route="queue",
            webhook_url=request.query_params.get("fal_webhook"),
        )
        self.start_job(job)
        body = self._handle(job) | {
            "status": "IN_QUEUE",
            "queue_position": self.state.queue_position(job),
        }
        return JSONResponse(body, headers={"x-fal-request-id": job.request_id})

    async def _status(self, request: Request) -> Response:
        job = self._find(request)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        with_logs = request.query_params.get("logs", "0").lower() in ("1", "true")
        logs = list(job.logs) if with_logs else None
        body = self._handle(job)
        if job.phase is JobPhase.QUEUED:
            body |= {
                "status": "IN_QUEUE",
                "queue_position": self.state.queue_position(job),
                "logs": None,
            }
            return JSONResponse(body, status_code=202)
        if job.phase is JobPhase.RUNNING:
            return JSONResponse(body | {"status": "IN_PROGRESS", "logs": logs}, status_code=202)
        body |= {
            "status": "COMPLETED",
            "logs": logs,
            "metrics": {"inference_time": job.inference_time_s},
        }
        if job.phase is JobPhase.CANCELED:
            body |= {"error": "Request was cancelled.", "error_type": "request_cancelled"}
        elif job.error is FaultKind.CONTENT_REJECTED:
            body |= {"error": _CONTENT_MSG, "error_type": "content_policy_violation"}
        elif job.error is not None:
            body |= {"error": "Runner disconnected", "error_type": "runner_disconnected"}
        return JSONResponse(body)

    async def _result(self, request: Request) -> Response:
        job = self._find(request)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if job.phase is JobPhase.CANCELED:
            return _request_error(400, "Request was cancelled.", "request_cancelled")
        if not job.done:
            return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
        return self._outcome(job)

    async def _cancel(self, request: Request) -> Response:
        job = self._find(request)
        if job is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        if job.phase is JobPhase.COMPLETED:
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        self.cancel_job(job)
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    async def _run_sync(self, request: Request) -> Response:
        model = request.path_params["model_id"]
        arguments = await json_body(request)
        problem = _input_problem(model, arguments)
        if problem is not None:
            return problem
        job = self.new_job(request, model, arguments, route="run")
        await self.run_inline(job)
        return self._outcome(job)

    async def _list_requests(self, request: Request) -> Response:
        jobs = (job for job in self.state.jobs.values() if job.provider == self.id)
        return fal_requests(request, jobs, self.state.config, self._payload, self.state.clock())

    def _payload(self, job: Job) -> tuple[int, Any]:
        answer = self._outcome(job)
        return answer.status_code, json.loads(bytes(answer.body))

    async def _jwks(self, _request: Request) -> Response:
        return JSONResponse(self.signer.jwks(), headers={"Cache-Control": "max-age=86400"})

    # -- jobs --------------------------------------------------------------------------------

    async def produce(self, job: Job) -> dict[str, Any]:
        args = job.arguments
        if is_video(job.model):
            width, height = video_size(args)
            clip = await self.media.video(width, height, duration_s(job.model, args))
            return {"video": self._file(job, clip, "output.mp4", inline=False)}
        width, height = image_size(args)
        image_format: ImageFormat = "png" if args.get("output_format") == "png" else "jpeg"
        still = await self.media.image(width, height, image_format)
        count = num_images(args)
        inline = bool(args.get("sync_mode"))
        images = [
            self._file(
                job, still, f"image-{i}.{'png' if image_format == 'png' else 'jpg'}", inline=inline
            )
            | {"width": still.width, "height": still.height}
            for i in range(count)
        ]
        seed = args.get("seed")
        if not isinstance(seed, int):
            seed = int.from_bytes(hashlib.sha256(job.request_id.encode()).digest()[:6], "big")
        return {
            "images": images,
            "timings": {"inference": self.state.config.latency_s},
            "seed": seed,
            "has_nsfw_concepts": [False] * count,
            "prompt": args.get("prompt", ""),
        }

    def bill(self, job: Job) -> Billing:
        return bill(job.model, job.arguments)

    def references(self, model: str, arguments: Any) -> list[dict[str, Any]]:
        urls = arguments.get("image_urls") if isinstance(arguments, dict) else None
        return [describe_image(url) for url in urls] if isinstance(urls, list) else []

    def webhook_delivery(self, job: Job) -> WebhookDelivery | None:
        if job.webhook_url is None or job.phase is not JobPhase.COMPLETED:
            return None
        body: dict[str, Any] = {"request_id": job.request_id, "gateway_request_id": job.request_id}
        if job.error is None:
            body |= {"status": "OK", "payload": job.output}
        else:
            response = self._outcome(job)
            body |= {
                "status": "ERROR",
                "payload": json.loads(bytes(response.body)),
                "error": f"Invalid status code: {response.status_code}",
            }
        return WebhookDelivery(
            provider=self.id,
            request_id=job.request_id,
            url=job.webhook_url,
            body=json.dumps(body).encode(),
            signer=self.signer,
        )

    # -- helpers -----------------------------------------------------------------------------

    def _find(self, request: Request) -> Job | None:
        job = self.state.jobs.get(request.path_params["request_id"])
        if job is None or job.provider != self.id or job.route != "queue":
            return None
        if app_path(job.model) != request.path_params["app_path"]:
            return None
        return job

    def _handle(self, job: Job) -> dict[str, Any]:
        base = f"{job.origin}/fal/queue/{app_path(job.model)}/requests/{job.request_id}"
        return {
            "request_id": job.request_id,
            "gateway_request_id": job.request_id,
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }

    def _outcome(self, job: Job) -> Response:
        if job.error is FaultKind.CONTENT_REJECTED:
            return _content_rejected()
        if job.error is not None or job.output is None:
            return _request_error(503, "Runner disconnected", "runner_disconnected")
        return JSONResponse(job.output, headers={"x-fal-request-id": job.request_id})

    def _file(self, job: Job, media: MediaFile, file_name: str, *, inline: bool) -> dict[str, Any]:
        url = (
            f"data:{media.content_type};base64,{base64.b64encode(media.data).decode()}"
            if inline
            else file_url(job, media.name)
        )
        return {
            "url": url,
            "content_type": media.content_type,
            "file_name": file_name,
            "file_size": len(media.data),
        }


def _request_error(status: int, detail: str, error_type: str) -> Response:
    return JSONResponse(
        {"detail": detail, "error_type": error_type},
        status_code=status,
        headers={"X-Fal-Error-Type": error_type},
    )


def _content_rejected() -> Response:
    return JSONResponse(
        {"detail": [_CONTENT_DETAIL]}, status_code=422, headers={"X-Fal-Retryable": "false"}
    )


def _input_problem(model: str, arguments: Any) -> Response | None:
    """fal's 422 (FastAPI-style) for a body the model would refuse, or None."""
    if len(app_path(model).split("/")) < 2:
        return JSONResponse({"detail": f"Application {model!r} not found"}, status_code=404)
    if not isinstance(arguments, dict):
        detail = [
            {"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    missing = [name for name in required_inputs(model) if not arguments.get(name)]
    if missing:
        detail = [
            {"loc": ["body", name], "msg": "Field required", "type": "missing"} for name in missing
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    return None
