"""Runway's wire format on loopback: image-to-video and text-to-image tasks, polled.

Mounted at ``/runway``, which stands for ``https://api.dev.runwayml.com``. Shapes follow the
provider reference (§4): ``POST /v1/image_to_video`` and ``POST /v1/text_to_image`` answer
``{"id"}``; ``GET /v1/tasks/{id}`` answers ``{id, createdAt, status}`` plus ``progress`` (0-1)
while ``RUNNING``, ``output`` (a list of URLs on ``/_emulator/files``) once ``SUCCEEDED``,
``failure`` and ``failureCode`` once ``FAILED``; ``DELETE /v1/tasks/{id}`` (204, no body)
cancels a pending or running task and deletes any other. Every call needs ``Authorization:
Bearer <key>`` and ``X-Runway-Version: 2024-11-06`` (400 without it). Runway sends no webhooks
and documents no listing of past tasks. Both creates are operation ``submit`` (the accept call a
``hold_accept`` fault holds).

Where Runway's behaviour is not documented the emulator picks something plausible: task
creation answers 200; a cancelled task stays readable as ``CANCELLED`` while a deleted one is
404; a queued task shows ``THROTTLED`` when two or more earlier tasks are still queued (standing
in for the tier's concurrency limit), else ``PENDING``; 400 bodies are
``{"error": ..., "issues": [...]}``; a content rejection at creation is 400 with
``failureCode: SAFETY.INPUT.TEXT``, inside a task ``FAILED`` with that code, and any other task
failure ``INTERNAL.BAD_OUTPUT.CODE01``; 429 carries ``Retry-After``. Billing: 5 credits per
second of ``gen4_turbo`` (other video models too), ``gen4_image`` 5 credits (720p ratios) or 8,
``gen4_image_turbo`` 2, at $0.01 per credit. A text-to-image task's ``referenceImages`` (at
most 3 ``{uri, tag}``, tags of 3-16 word characters starting with a letter; 400 otherwise) are
its references in the ledger's ``received``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
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
    Handler,
    describe_image,
    file_url,
    json_body,
)
from reelforge.emulator.state import FaultKind, Job, JobPhase

__all__ = ["API_VERSION", "DUMMY_KEY", "RunwayEmulator"]

DUMMY_KEY = "key_emulator-runway-secret"
API_VERSION = "2024-11-06"
_CREDIT_USD = Decimal("0.01")
_THROTTLED_AFTER = 2
_KEPT_DELETED = 10_000
_GEN4_RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
_VEO_RATIOS = {"1280:720", "720:1280", "1080:1920", "1920:1080"}
_VIDEO_MODELS = {
    "gen4_turbo": _GEN4_RATIOS,
    "gen4.5": _GEN4_RATIOS,
    "veo3": _VEO_RATIOS,
    "veo3.1": _VEO_RATIOS,
    "veo3.1_fast": _VEO_RATIOS,
}
_IMAGE_720P = {"1280:720", "720:1280", "720:720", "960:720", "720:960", "1680:720"}
_IMAGE_RATIOS = _IMAGE_720P | {
    *("1024:1024", "1080:1080", "1168:880", "1360:768", "1440:1080", "1080:1440"),
    *("1808:768", "1920:1080", "1080:1920", "2112:912"),
}
_IMAGE_CREDITS = {"gen4_image": 8, "gen4_image_turbo": 2}
_MAX_REFERENCES = 3
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,15}$")
_VIDEO_CREDITS_PER_S = 5


def _unauthorized() -> Response:
    return JSONResponse({"error": "Invalid API key."}, status_code=401)


def _failed(status: int, message: str, failure_code: str | None = None) -> Response:
    body = {"error": message} | ({"failureCode": failure_code} if failure_code else {})
    return JSONResponse(body, status_code=status)


_FAULT_ANSWERS: dict[FaultKind, FaultAnswer] = {
    FaultKind.HTTP_429: lambda _: _failed(429, "You have exceeded the rate limit for this model."),
    FaultKind.INVALID_INPUT: lambda _: _bad_request(
        "Validation of body failed", ["ratio"], "Invalid enum value."
    ),
    FaultKind.CONTENT_REJECTED: lambda _: _failed(
        400, "Your request was flagged by content moderation.", "SAFETY.INPUT.TEXT"
    ),
    FaultKind.HTTP_401: lambda _: _unauthorized(),
    FaultKind.HTTP_500: lambda _: _failed(500, "An internal error occurred."),
    FaultKind.HTTP_503: lambda _: _failed(503, "Service is overloaded."),
    FaultKind.HANG: lambda _: _failed(504, "Gateway timeout."),
}


class RunwayEmulator(EmulatedProvider):
    """Runway's task endpoints, with its version header and its failure codes."""

    id: ClassVar[str] = "runway"
    fault_answers: ClassVar[Mapping[FaultKind, FaultAnswer]] = _FAULT_ANSWERS

    def __init__(self, context: EmulatorContext) -> None:
        super().__init__(context)
        self._deleted: set[str] = set()

    @classmethod
    def environment(cls, base_url: str) -> dict[str, str]:
        return {
            "REELFORGE_PROVIDERS__RUNWAY__BASE_URL": f"{base_url}/runway",
            "RUNWAYML_API_SECRET": DUMMY_KEY,
        }

    def routes(self) -> Sequence[BaseRoute]:
        tasks = "/v1/tasks/{request_id}"
        return [
            self.endpoint(
                "/v1/image_to_video", "submit", self._versioned(self._video), methods=["POST"]
            ),
            self.endpoint(
                "/v1/text_to_image", "submit", self._versioned(self._image), methods=["POST"]
            ),
            self.endpoint(tasks, "status", self._versioned(self._get), methods=["GET"]),
            self.endpoint(tasks, "cancel", self._versioned(self._delete), methods=["DELETE"]),
        ]

    def authenticate(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and bool(key.strip())

    def unauthorized_response(self) -> Response:
        return _unauthorized()

    # -- endpoints ---------------------------------------------------------------------------

    def _versioned(self, handler: Handler) -> Handler:
        """``handler`` behind Runway's check of the ``X-Runway-Version`` header."""

        async def checked(request: Request) -> Response:
            version = request.headers.get("x-runway-version")
            if version is None:
                return JSONResponse(
                    {"error": "The X-Runway-Version header is required."}, status_code=400
                )
            if version != API_VERSION:
                return JSONResponse(
                    {"error": f"Unsupported API version {version!r}."}, status_code=400
                )
            return await handler(request)

        return checked

    async def _video(self, request: Request) -> Response:
        body = await json_body(request)
        problem = _video_problem(body)
        return problem or self._start(request, body)

    async def _image(self, request: Request) -> Response:
        body = await json_body(request)
        problem = _image_problem(body)
        return problem or self._start(request, body)

    def _start(self, request: Request, body: dict[str, Any]) -> Response:
        job = self.new_job(request, str(body["model"]), body, route=request.url.path)
        self.start_job(job)
        return JSONResponse({"id": job.request_id})

    async def _get(self, request: Request) -> Response:
        job = self._find(request)
        if job is None:
            return JSONResponse({"error": "Task not found."}, status_code=404)
        return JSONResponse(self._task(job))

    async def _delete(self, request: Request) -> Response:
        job = self._find(request)
        if job is None:
            return JSONResponse({"error": "Task not found."}, status_code=404)
        if job.done:
            self._deleted.add(job.request_id)
            if len(self._deleted) > _KEPT_DELETED:
                self._deleted &= set(self.state.jobs)
        else:
            self.cancel_job(job)
        return Response(status_code=204)

    # -- jobs --------------------------------------------------------------------------------

    async def produce(self, job: Job) -> dict[str, Any]:
        width, height = _ratio_size(str(job.arguments.get("ratio", "1280:720")))
        if job.model in _IMAGE_CREDITS:
            media = await self.media.image(width, height, "png")
        else:
            media = await self.media.video(width, height, _duration(job.arguments))
        return {"files": [media.name]}

    def references(self, model: str, arguments: Any) -> list[dict[str, Any]]:
        found = arguments.get("referenceImages") if isinstance(arguments, dict) else None
        return [
            describe_image(reference.get("uri"))
            for reference in (found if isinstance(found, list) else ())
            if isinstance(reference, dict)
        ]

    def bill(self, job: Job) -> Billing:
        if job.model in _IMAGE_CREDITS:
            credits = _IMAGE_CREDITS[job.model]
            if job.model == "gen4_image" and job.arguments.get("ratio") in _IMAGE_720P:
                credits = 5
            return Billing(1, "image", credits * _CREDIT_USD)
        seconds = _duration(job.arguments)
        return Billing(seconds, "second", Decimal(seconds) * _VIDEO_CREDITS_PER_S * _CREDIT_USD)

    # -- helpers -----------------------------------------------------------------------------

    def _task(self, job: Job) -> dict[str, Any]:
        created = datetime.fromtimestamp(job.created_at, UTC).isoformat(timespec="milliseconds")
        task: dict[str, Any] = {"id": job.request_id, "createdAt": created.replace("+00:00", "Z")}
        if job.phase is JobPhase.QUEUED:
            throttled = self.state.queue_position(job) >= _THROTTLED_AFTER
            return task | {"status": "THROTTLED" if throttled else "PENDING"}
        if job.phase is JobPhase.RUNNING:
            return task | {"status": "RUNNING", "progress": self._progress(job)}
        if job.phase is JobPhase.CANCELED:
            return task | {"status": "CANCELLED"}
        if job.error is FaultKind.CONTENT_REJECTED:
            failure = "The prompt text did not pass content moderation."
            return task | {
                "status": "FAILED",
                "failure": failure,
                "failureCode": "SAFETY.INPUT.TEXT",
            }
        if job.error is not None or job.output is None:
            return task | {
                "status": "FAILED",
                "failure": "An unexpected error occurred.",
                "failureCode": "INTERNAL.BAD_OUTPUT.CODE01",
            }
        output = [file_url(job, name) for name in job.output["files"]]
        return task | {"status": "SUCCEEDED", "output": output}

    def _progress(self, job: Job) -> float:
        config = self.state.config
        running_s = max(config.latency_s - min(config.queue_s, config.latency_s), 1e-6)
        elapsed = self.state.clock() - (job.started_at or self.state.clock())
        return round(min(max(elapsed / running_s, 0.0), 0.99), 2)

    def _find(self, request: Request) -> Job | None:
        job = self.state.jobs.get(request.path_params["request_id"])
        if job is None or job.provider != self.id or job.request_id in self._deleted:
            return None
        return job


def _bad_request(error: str, path: list[str], message: str) -> Response:
    return JSONResponse(
        {"error": error, "issues": [{"path": path, "message": message}]}, status_code=400
    )


def _common_problem(body: Any, ratios: set[str]) -> Response | None:
    if not isinstance(body, dict):
        return _bad_request("Validation of body failed", [], "Expected object.")
    prompt = body.get("promptText")
    if prompt is not None and (not isinstance(prompt, str) or not 0 < len(prompt) <= 1000):
        return _bad_request(
            "Validation of body failed", ["promptText"], "Must be 1-1000 characters."
        )
    if body.get("ratio") not in ratios:
        return _bad_request("Validation of body failed", ["ratio"], "Invalid enum value.")
    return None


def _video_problem(body: Any) -> Response | None:
    model = body.get("model") if isinstance(body, dict) else None
    if model not in _VIDEO_MODELS:
        return _bad_request("Validation of body failed", ["model"], "Invalid enum value.")
    problem = _common_problem(body, _VIDEO_MODELS[str(model)])
    if problem is not None:
        return problem
    image = body.get("promptImage")
    if isinstance(image, list):
        image = next((i.get("uri") for i in image if isinstance(i, dict)), None)
    if not isinstance(image, str) or not image.startswith(("https://", "http://", "data:image/")):
        return _bad_request("Validation of body failed", ["promptImage"], "Invalid input URI.")
    allowed: Sequence[int] = range(2, 11)
    if model == "gen4_turbo":
        allowed = (5, 10)
    elif str(model).startswith("veo"):
        allowed = (4, 6, 8)
    if body.get("duration", 5) not in allowed:
        return _bad_request("Validation of body failed", ["duration"], "Invalid duration.")
    return None


def _image_problem(body: Any) -> Response | None:
    model = body.get("model") if isinstance(body, dict) else None
    if model not in _IMAGE_CREDITS:
        return _bad_request("Validation of body failed", ["model"], "Invalid enum value.")
    problem = _common_problem(body, _IMAGE_RATIOS)
    if problem is None and not body.get("promptText"):
        return _bad_request("Validation of body failed", ["promptText"], "Required.")
    return problem or _references_problem(body.get("referenceImages"))


def _references_problem(references: Any) -> Response | None:
    """Why ``referenceImages`` is refused: too many, or an entry without a URI or a good tag."""
    if references is None:
        return None
    path = ["referenceImages"]
    if not isinstance(references, list) or len(references) > _MAX_REFERENCES:
        return _bad_request("Validation of body failed", path, "At most 3 reference images.")
    for reference in references:
        uri = reference.get("uri") if isinstance(reference, dict) else None
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://", "data:image/")):
            return _bad_request("Validation of body failed", [*path, "uri"], "Invalid input URI.")
        tag = reference.get("tag")
        if tag is not None and not (isinstance(tag, str) and _TAG.match(tag)):
            return _bad_request("Validation of body failed", [*path, "tag"], "Invalid tag.")
    return None


def _ratio_size(ratio: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in ratio.split(":"))
    except ValueError:
        return 1280, 720
    return width, height


def _duration(arguments: dict[str, Any]) -> int:
    value = arguments.get("duration", 5)
    return value if isinstance(value, int) and value > 0 else 5
