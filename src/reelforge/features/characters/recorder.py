"""From a finished run of the characters feature to ``character-image-metadata`` rows.

:meth:`RunRecorder.record` is the work of the feature's finish step: one row per output, in
output order, and the run's response (the rows' ids and the failed jobs). Recording twice (a
finish step run again after a crash) is harmless: an asset has one row, and a row already made
is answered as it is. A run whose every job failed records nothing; the request that waits for
it raises the first failure with its own code (:func:`error_from_job`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reelforge.catalog import Catalog
from reelforge.catalog.records import JobRecord, RunRecord
from reelforge.engine.features import FinishedRun
from reelforge.errors import ConfigurationError, Conflict, NotFound, ProviderError, ReelforgeError
from reelforge.features.characters.planning import keeps_characters
from reelforge.features.characters.repository import CharacterImageRecord, CharacterRepository
from reelforge.features.characters.schemas import ImageKind
from reelforge.log import get_logger
from reelforge.providers.base import JobHandle, Succeeded
from reelforge.providers.registry import ProviderRegistry

__all__ = ["RecordedRun", "RunRecorder", "error_from_job"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RecordedRun:
    """The rows a run made, in output order, and the jobs that failed."""

    images: list[CharacterImageRecord]
    failed: list[dict[str, Any]] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        """What is stored on the run: the rows' ids and the failures."""
        return {"images": [image.id for image in self.images], "failed": self.failed}


def error_from_job(failure: Mapping[str, Any]) -> ReelforgeError:
    """A failed job's error, with its code, as the error class that owns that code."""
    code = str(failure.get("code") or "provider_error")
    message = str(failure.get("message") or "The generation failed.")
    details = {k: v for k, v in failure.items() if k in ("job_id", "run_id", "label", "provider")}
    cls = _error_classes().get(code, ProviderError)
    for candidate in cls.__mro__:
        if not (isinstance(candidate, type) and issubclass(candidate, ReelforgeError)):
            continue
        try:
            if issubclass(candidate, ProviderError):
                return candidate(message, provider=details.get("provider"), details=details)
            return candidate(message, details=details)
        except TypeError:  # a class with its own constructor (MissingCredential)
            continue
    return ProviderError(message, details=details)


def _error_classes() -> dict[str, type[ReelforgeError]]:
    found: dict[str, type[ReelforgeError]] = {}
    stack: list[type[ReelforgeError]] = [ReelforgeError]
    while stack:
        cls = stack.pop(0)
        found.setdefault(cls.code, cls)
        stack.extend(cls.__subclasses__())
    return found


class RunRecorder:
    """Turns a finished run of this feature into metadata rows (idempotently)."""

    def __init__(
        self, repository: CharacterRepository, catalog: Catalog, providers: ProviderRegistry
    ) -> None:
        self._repository = repository
        self._catalog = catalog
        self._providers = providers

    async def record(self, finished: FinishedRun) -> RecordedRun:
        """The rows of every output of ``finished`` (made now, or found made before)."""
        run = finished.run
        kind: ImageKind = run.input["kind"]
        provider = str(run.input["provider"])
        created_by = _text(run.input.get("created_by"))
        jobs = finished.jobs
        recorded = await self._repository.images_of_assets(
            [asset_id for job in jobs for asset_id in job.asset_ids]
        )
        images: list[CharacterImageRecord] = []
        failed: list[dict[str, Any]] = []
        library_db_id: str | None = None
        for job in jobs:
            if job.status != "succeeded":
                failed.append(_failure(job, run.id))
                continue
            result = job.provider_metadata or {}
            extra = await self._extra(job, result)
            library_db_id = library_db_id or _text(extra.get("library_db_id"))
            listed = extra.get("images")
            remote_images: list[Any] = listed if isinstance(listed, list) else []
            for index, asset_id in enumerate(job.asset_ids):
                image = recorded.get(asset_id)
                if image is None:
                    remote = remote_images[index] if index < len(remote_images) else {}
                    image = await self._add(
                        run,
                        job,
                        kind,
                        provider,
                        asset_id,
                        result,
                        remote,
                        library_db_id,
                        created_by,
                    )
                if image is not None:
                    images.append(image)
        await self._learn_library_id(str(run.input["character_id"]), kind, library_db_id)
        log.info("characters.run.recorded", run_id=run.id, images=len(images), failed=len(failed))
        return RecordedRun(images, failed)

    async def _add(
        self,
        run: RunRecord,
        job: JobRecord,
        kind: ImageKind,
        provider: str,
        asset_id: str,
        result: Mapping[str, Any],
        remote: Mapping[str, Any],
        library_db_id: str | None,
        created_by: str | None,
    ) -> CharacterImageRecord | None:
        try:
            asset = await self._catalog.assets.get(asset_id)
        except NotFound:
            return None
        metrics: dict[str, Any] = {"jobId": job.id, "runId": run.id}
        if job.started_at is not None and job.finished_at is not None:
            elapsed = job.finished_at - job.started_at
            metrics["durationMs"] = round(elapsed.total_seconds() * 1000)
        if isinstance(result.get("inference_time_ms"), int):
            metrics["providerDurationMs"] = result["inference_time_ms"]
        angle = _text(remote.get("angle")) or (
            job.request.get("label") if kind == "portfolioItem" else None
        )
        context = {
            "angle": angle,
            "libraryDbId": library_db_id if keeps_characters(self._providers, provider) else None,
            "referenceImageId": run.input.get("reference_image_id"),
            "costUsd": str(job.cost_usd) if job.cost_usd is not None else None,
        }
        metrics |= {k: v for k, v in context.items() if v is not None}
        try:
            return await self._repository.add_image(
                character_id=str(run.input["character_id"]),
                asset_id=asset_id,
                kind=kind,
                provider=provider,
                prompt=job.prompt or "",
                source_url=_text(remote.get("public_url")) or asset.source_url,
                external_id=_text(remote.get("image_id")),
                metrics=metrics,
                run_id=run.id,
                created_by=created_by,
            )
        except Conflict:  # recorded meanwhile (a finish step run twice at once)
            return (await self._repository.images_of_assets([asset_id])).get(asset_id)

    async def _extra(self, job: JobRecord, result: Mapping[str, Any]) -> dict[str, Any]:
        """The character keeper's own ids (its character, image ids, angles).

        The engine's record keeps them when it stores a result's ``extra``; otherwise the
        adapter still holds the finished job when it ran in this process."""
        if isinstance(result.get("extra"), dict):
            return dict(result["extra"])
        if not keeps_characters(self._providers, job.provider) or not job.provider_request_id:
            return {}
        try:
            provider = self._providers.get(job.provider)
            state = await provider.status(
                JobHandle(
                    provider=job.provider, request_id=job.provider_request_id, model=job.model
                )
            )
        except (ConfigurationError, ProviderError):
            return {}
        if isinstance(state, Succeeded):
            return dict(state.metadata.extra)
        log.warning("characters.library_ids_unknown", job_id=job.id)
        return {}

    async def _learn_library_id(
        self, character_id: str, kind: ImageKind, library_db_id: str | None
    ) -> None:
        if kind != "reference" or not library_db_id:
            return
        character = await self._repository.get(character_id)
        if character.library_db_id != library_db_id:
            await self._repository.update(character_id, {"library_db_id": library_db_id})


def _failure(job: JobRecord, run_id: str) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "run_id": run_id,
        "label": job.request.get("label"),
        "provider": job.provider,
        "status": job.status,
        "code": job.error_code or ("canceled" if job.status == "canceled" else "provider_error"),
        "message": job.error_message or f"The job ended {job.status}.",
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
