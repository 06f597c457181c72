"""What the transform service makes of the engine's runs, and what the catalog keeps.

:func:`success` builds the spec's response from the runs (the succeeded variations in order, a
warning for each that failed), :func:`failure` the spec's error (the provider's own code,
``<VENDOR>_ERROR``, ``TIMEOUT``, or the budget's), and the ``*_outcome`` functions what the
catalog keeps of either. The finish step stores either on the run (:func:`failure_envelope`
for an error); :func:`read_back` turns the stored response into the request's answer again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reelforge.budget.scopes import BudgetScope, scopes_for
from reelforge.catalog.records import AssetRecord, RunEventRecord
from reelforge.engine.service import JobView, RunView
from reelforge.errors import BudgetExhausted, InvalidInput, ProviderError, ReelforgeError, Timeout
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.repository import OutputRecord, TransformOutcome, TransformRecord
from reelforge.features.transform.schemas import (
    FinishedTransform,
    IdentityScore,
    Task,
    TransformOutput,
    TransformRequest,
    TransformResult,
    provider_label,
)
from reelforge.providers.registry import ProviderRegistry

__all__ = [
    "Attempt",
    "Output",
    "check_task",
    "failed_outcome",
    "failure",
    "failure_envelope",
    "no_output",
    "progress_event",
    "read_back",
    "record_view",
    "scopes",
    "success",
    "success_outcome",
    "timed_out",
]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider's run of the transform's variations."""

    provider: str
    view: RunView


@dataclass(frozen=True, slots=True)
class Output:
    """A succeeded variation's file and its identity score."""

    job: JobView
    asset: AssetRecord
    url: str
    identity: IdentityScore

    @property
    def variation(self) -> int:
        return _variation(self.job)


# -- runs in ------------------------------------------------------------------------------


def check_task(asked: Task | None, found: Task) -> None:
    if asked is not None and asked != found:
        kind = "a video" if found == "VIDEO_GENERATION" else "an image"
        raise InvalidInput(
            f"The task {asked} does not fit the media, which is {kind}.",
            details={"field": "task", "reason": "task_mismatch", "expected": found},
        )


def scopes(request: TransformRequest) -> tuple[BudgetScope, ...]:
    return scopes_for(project_id=request.project_id)


def progress_event(event: RunEventRecord) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event.kind}
    label = event.payload.get("label")
    if isinstance(label, str):
        body["label"] = label
    if event.kind == "completed":
        body["status"] = event.payload.get("status")
    return body


# -- runs out -----------------------------------------------------------------------------


def success(
    transform_id: str,
    task: Task,
    attempts: Sequence[Attempt],
    outputs: Sequence[Output],
    choice_warnings: Sequence[str],
    started: float,
    settings: TransformSettings,
) -> TransformResult:
    """``started``: when the request began, in epoch seconds."""
    last = attempts[-1]
    warnings = list(choice_warnings)
    for earlier in attempts[:-1]:
        warnings.append(
            f"{provider_label(earlier.provider)} failed; used {provider_label(last.provider)}."
        )
    warnings += [
        f"Failed to generate variation {_variation(job)}"
        for job in last.view.jobs
        if job.status != "succeeded"
    ]
    models = [job.model for job in last.view.jobs if job.status == "succeeded"]
    return TransformResult(
        transform_id=transform_id,
        provider=last.provider,
        task=task,
        outputs=tuple(
            TransformOutput(
                variation=output.variation,
                asset_id=output.asset.id,
                url=output.url,
                content_type=output.asset.content_type,
                identity=output.identity,
            )
            for output in outputs
        ),
        processing_time=round(time.time() - started, 1),
        model_used=models[0] if models else last.view.jobs[0].model,
        warnings=tuple(warnings),
        identity_threshold=settings.identity_threshold,
    )


def timed_out(provider: str, task: Task, seconds: float) -> Timeout:
    return Timeout(
        f"AI task timed out after {seconds:g} seconds",
        details={
            "provider": provider_label(provider),
            "task": task,
            "timeout_seconds": seconds,
        },
    )


def failure(
    exc: ReelforgeError,
    attempts: Sequence[Attempt],
    task: Task,
    settings: TransformSettings,
    providers: ProviderRegistry,
) -> ReelforgeError:
    """The spec's error for a transform that made nothing (``exc`` when it is already one)."""
    if not isinstance(exc, _NoOutput) or not attempts:
        return exc
    last = attempts[-1]
    errors = [job.error for job in last.view.jobs if job.error is not None]
    codes = {error["code"] for error in errors}
    if codes == {BudgetExhausted.code}:
        return BudgetExhausted(errors[0]["message"], details={"provider": last.provider})
    cls = providers.provider_class(last.provider)
    if "provider_timeout" in codes:
        seconds = settings.provider_timeout_s(last.provider, cls.job_timeout_s)
        return timed_out(last.provider, task, seconds)
    what = "Video" if task == "VIDEO_GENERATION" else "Image"
    first = errors[0] if errors else {"code": "provider_error", "message": "no output"}
    return cls.error(
        f"{cls.vendor_name} API error: {what} transformation failed",
        details={"originalError": first["message"], "code": first["code"]},
    )


class _NoOutput(ReelforgeError):
    """Internal: every variation of the last provider failed (mapped by :func:`failure`)."""


def no_output() -> ReelforgeError:
    return _NoOutput("No variation was generated.")


def failure_envelope(error: ReelforgeError) -> dict[str, Any]:
    """The spec's error envelope, as the finish step stores it on the run."""
    return {"success": False, "error": error.to_payload()}


#: The errors a finish step stores besides the providers' own (rebuilt by their error class).
_RECORDED_ERRORS: dict[str, type[ReelforgeError]] = {
    Timeout.code: Timeout,
    BudgetExhausted.code: BudgetExhausted,
}


def read_back(response: Mapping[str, Any], providers: ProviderRegistry) -> FinishedTransform:
    """The stored response as the request answers it; a stored error is raised again, with
    its code, status, message and details."""
    if response.get("success"):
        return FinishedTransform(response)
    payload = response["error"]
    message, details = str(payload["message"]), dict(payload.get("details") or {})
    cls = _RECORDED_ERRORS.get(payload["code"])
    if cls is not None:
        raise cls(message, details=details)
    provider = str(details.get("provider") or "")
    error = providers.provider_class(provider).error if provider in providers.ids else ProviderError
    raise error(message, details=details)


def success_outcome(
    result: TransformResult, attempts: Sequence[Attempt], outputs: Sequence[Output], keep: bool
) -> TransformOutcome:
    return TransformOutcome(
        status="partial" if len(outputs) < len(attempts[-1].view.jobs) else "succeeded",
        provider=result.provider,
        model_used=result.model_used,
        run_id=attempts[0].view.id,
        fallback_run_id=attempts[-1].view.id if len(attempts) > 1 else None,
        processing_time_s=result.processing_time,
        outputs=tuple(
            OutputRecord(
                position=index,
                variation=output.variation,
                asset_id=output.asset.id,
                job_id=output.job.id,
                content_type=output.asset.content_type,
                identity_distance=output.identity.distance,
                identity_passed=output.identity.passed,
                identity_note=output.identity.note,
            )
            for index, output in enumerate(outputs)
        ),
        details={"warnings": list(result.warnings)},
        input_kept=keep,
    )


def failed_outcome(
    error: ReelforgeError, attempts: Sequence[Attempt], started: float, keep: bool
) -> TransformOutcome:
    return TransformOutcome(
        status="failed",
        provider=attempts[-1].provider if attempts else None,
        model_used=None,
        run_id=attempts[0].view.id if attempts else None,
        fallback_run_id=attempts[-1].view.id if len(attempts) > 1 else None,
        processing_time_s=round(time.time() - started, 1),
        error_code=error.code,
        error_message=error.message,
        input_kept=keep,
    )


def record_view(record: TransformRecord) -> dict[str, Any]:
    """A transform as ``GET /v1/transforms/{id}`` shows it."""
    return {
        "id": record.id,
        "status": record.status,
        "source": record.source,
        "project_id": record.project_id,
        "media": {
            "kind": record.media_kind,
            "content_type": record.media_content_type,
            "size_bytes": record.media_size_bytes,
            "width": record.media_width,
            "height": record.media_height,
            "duration_s": record.media_duration_s,
            "kept": record.input_kept,
            "asset_id": record.input_asset_id,
        },
        "description_chars": record.description_chars,
        "description": record.description,
        "style_preset": record.style_preset,
        "aspect_ratio": record.aspect_ratio,
        "output_count": record.output_count,
        "variation_count": record.variation_count,
        "provider": provider_label(record.provider) if record.provider else None,
        "model_used": record.model_used,
        "run_id": record.run_id,
        "fallback_run_id": record.fallback_run_id,
        "processing_time": record.processing_time_s,
        "warnings": record.details.get("warnings", []),
        "error": (
            {"code": record.error_code, "message": record.error_message}
            if record.error_code
            else None
        ),
        "identity_threshold": record.identity_threshold,
        "outputs": [
            {
                "variation": output.variation,
                "asset_id": output.asset_id,
                "content_type": output.content_type,
                "identity": {
                    "distance": output.identity_distance,
                    "passed": output.identity_passed,
                    "note": output.identity_note,
                },
            }
            for output in record.outputs
        ],
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _variation(job: JobView) -> int:
    label = job.label or ""
    suffix = label.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0
