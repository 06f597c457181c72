"""From a :class:`~reelforge.engine.specs.JobSpec` to the provider's request, and back from a
job's history to what its provider accepted."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from reelforge.catalog import Catalog
from reelforge.catalog.records import JobEventRecord
from reelforge.engine.outcomes import Submission
from reelforge.engine.specs import JobSpec
from reelforge.errors import ConfigurationError, Conflict
from reelforge.media.store import MediaStore
from reelforge.providers.base import GenerationRequest, InputImage, Provider
from reelforge.providers.briefs import CharacterBrief, SceneBrief

__all__ = ["estimate_usd", "generation_request", "recorded_submission"]


async def generation_request(
    spec: JobSpec,
    provider: Provider,
    *,
    catalog: Catalog,
    store: MediaStore,
    webhook_base_url: str | None,
    job_id: str | None = None,
    attempt: int | None = None,
) -> GenerationRequest:
    """The provider's request for ``spec``: input and reference images loaded from the store,
    and the webhook URL when the provider calls back and the spec's wait policy wants it. The URL
    names the job and attempt (``?job=...&attempt=...``), so a callback about a submission
    whose request id was never recorded (the process died while the provider accepted it) is
    still traced to its job. A prompt the job does not keep is not in the workflow's spec: it is
    read from the job's row, which holds it while the job is open."""
    if not spec.keep_prompt and not spec.prompt:
        spec = spec.model_copy(update={"prompt": await _open_jobs_prompt(catalog, job_id)})
    images = [await _image(asset_id, catalog, store) for asset_id in spec.input_asset_ids]
    references = [await _image(asset_id, catalog, store) for asset_id in spec.reference_asset_ids]
    webhook_url = None
    base = webhook_base_url
    wait = spec.wait
    if base and provider.sends_webhooks and (wait is None or wait.webhook):
        webhook_url = f"{base.rstrip('/')}/webhooks/{provider.id}"
        if job_id is not None:
            query = {"job": job_id} | ({} if attempt is None else {"attempt": str(attempt)})
            webhook_url = f"{webhook_url}?{urlencode(query)}"
    return GenerationRequest.of(
        spec,
        images=tuple(images),
        references=tuple(references),
        scene=_scene(spec.scene),
        webhook_url=webhook_url,
    )


async def _image(asset_id: str, catalog: Catalog, store: MediaStore) -> InputImage:
    asset = await catalog.assets.get(asset_id)
    return InputImage(content_type=asset.content_type, data=await store.get_bytes(asset.key))


async def _open_jobs_prompt(catalog: Catalog, job_id: str | None) -> str:
    if job_id is None:
        raise Conflict("A job that does not keep its prompt is sent only as a recorded job.")
    job = await catalog.jobs.get(job_id)
    if job.is_terminal:
        raise Conflict(
            f"Job {job_id} has ended: its prompt is no longer kept.", details={"job_id": job_id}
        )
    prompt = job.request.get("prompt")
    return prompt if isinstance(prompt, str) else ""


def recorded_submission(events: list[JobEventRecord], attempt: int | None) -> Submission | None:
    """What was recorded when the provider accepted ``attempt`` (None: the latest attempt)."""
    for event in reversed(events):
        detail = event.payload.get("detail") if event.status == "running" else None
        if not isinstance(detail, dict) or "handle" not in detail:
            continue
        if attempt is None or detail.get("attempt") == attempt:
            return Submission.model_validate(detail)
        return None
    return None


def _scene(scene: Mapping[str, Any] | None) -> SceneBrief | None:
    if scene is None:
        return None
    characters = tuple(CharacterBrief(**dict(c)) for c in scene.get("characters", ()))
    return SceneBrief(**{**dict(scene), "characters": characters})


def estimate_usd(provider: Provider, request: GenerationRequest) -> Decimal | None:
    try:
        return provider.estimate_cost(request).amount_usd
    except ConfigurationError:
        return None
