"""The transforms' SQL: a row per transform, its outputs with their identity scores.

The service builds its :class:`TransformRepository` on the catalog (``TransformRepository.on``)
and is its only user. Rows come back as frozen records; see :mod:`.tables` for what is (and is
not) kept.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reelforge.catalog.models import new_id
from reelforge.catalog.repositories._base import (
    Repository,
    check_choice,
    check_page,
    json_document,
)
from reelforge.errors import NotFound
from reelforge.features.transform.tables import (
    MEDIA_KINDS,
    TRANSFORM_SOURCES,
    TRANSFORM_STATUSES,
    OutputRow,
    TransformRow,
)

__all__ = [
    "NewTransform",
    "OutputRecord",
    "TransformOutcome",
    "TransformRecord",
    "TransformRepository",
]


@dataclass(frozen=True, slots=True)
class NewTransform:
    """What is known when a transform starts."""

    source: str
    media_kind: str
    media_content_type: str
    media_size_bytes: int
    media_width: int | None
    media_height: int | None
    media_duration_s: float | None
    input_asset_id: str
    input_kept: bool
    description_chars: int
    description: str | None
    style_preset: str | None
    aspect_ratio: str
    output_count: int
    identity_threshold: float
    project_id: str | None = None
    #: The run about to start for it, and the inputs that run will own: what ends the
    #: transform if its process dies before that run is started (:mod:`.stranded`).
    run_id: str | None = None
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutputRecord:
    position: int
    variation: int
    asset_id: str
    job_id: str | None
    content_type: str
    identity_distance: float | None
    identity_passed: bool | None
    identity_note: str | None


@dataclass(frozen=True, slots=True)
class TransformOutcome:
    """How a transform ended (``outputs`` in order)."""

    status: str
    provider: str | None
    model_used: str | None
    run_id: str | None
    fallback_run_id: str | None
    processing_time_s: float
    outputs: tuple[OutputRecord, ...] = ()
    details: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    input_kept: bool | None = None


@dataclass(frozen=True, slots=True)
class TransformRecord:
    id: str
    status: str
    source: str
    project_id: str | None
    media_kind: str
    media_content_type: str
    media_size_bytes: int
    media_width: int | None
    media_height: int | None
    media_duration_s: float | None
    input_asset_id: str | None
    input_kept: bool
    description_chars: int
    description: str | None
    style_preset: str | None
    aspect_ratio: str
    output_count: int
    variation_count: int
    provider: str | None
    model_used: str | None
    run_id: str | None
    fallback_run_id: str | None
    processing_time_s: float | None
    identity_threshold: float
    details: dict[str, Any]
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    outputs: tuple[OutputRecord, ...]


class TransformRepository(Repository):
    """Transforms and their outputs."""

    async def create(self, new: NewTransform) -> TransformRecord:
        check_choice(new.source, TRANSFORM_SOURCES, "source")
        check_choice(new.media_kind, MEDIA_KINDS, "media_kind")
        now = self._now()
        async with self._write() as session:
            row = TransformRow(
                id=new_id(),
                status="running",
                source=new.source,
                project_id=new.project_id,
                media_kind=new.media_kind,
                media_content_type=new.media_content_type,
                media_size_bytes=new.media_size_bytes,
                media_width=new.media_width,
                media_height=new.media_height,
                media_duration_s=new.media_duration_s,
                input_asset_id=new.input_asset_id,
                input_kept=new.input_kept,
                description_chars=new.description_chars,
                description=new.description,
                style_preset=new.style_preset,
                aspect_ratio=new.aspect_ratio,
                output_count=new.output_count,
                variation_count=0,
                run_id=new.run_id,
                identity_threshold=new.identity_threshold,
                details={"inputs": list(new.inputs)} if new.inputs else {},
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            return _record(row, [])

    async def finish(self, transform_id: str, outcome: TransformOutcome) -> TransformRecord:
        """Record how the transform ended, with its outputs in place of any recorded before
        (a finish step that runs twice, a fallback provider's run after the first's)."""
        check_choice(outcome.status, TRANSFORM_STATUSES, "status")
        details = json_document(outcome.details or {}, "details")
        async with self._write() as session:
            row = await session.get(TransformRow, transform_id, with_for_update=True)
            if row is None:
                raise _missing(transform_id)
            row.status = outcome.status
            row.provider = outcome.provider
            row.model_used = outcome.model_used
            row.run_id = outcome.run_id
            row.fallback_run_id = outcome.fallback_run_id
            row.processing_time_s = outcome.processing_time_s
            row.variation_count = len(outcome.outputs)
            row.details = details
            row.error_code = outcome.error_code
            row.error_message = outcome.error_message
            if outcome.input_kept is not None:
                row.input_kept = outcome.input_kept
                if not outcome.input_kept:
                    row.input_asset_id = None
            row.updated_at = self._now()
            await session.execute(delete(OutputRow).where(OutputRow.transform_id == transform_id))
            outputs = [
                OutputRow(transform_id=transform_id, **_output_fields(output))
                for output in outcome.outputs
            ]
            session.add_all(outputs)
            await session.flush()
            return _record(row, outputs)

    async def note_timeout(self, transform_id: str, run_id: str) -> None:
        """Note that the request gave up waiting for ``run_id`` (before it cancels the run), so
        the run's finish step records a timeout rather than a cancel."""
        async with self._write() as session:
            row = await session.get(TransformRow, transform_id, with_for_update=True)
            if row is None:
                raise _missing(transform_id)
            row.details = {**(row.details or {}), "timed_out_run": run_id}
            row.updated_at = self._now()

    async def running_before(
        self, before: datetime, *, after: tuple[datetime, str] | None, limit: int
    ) -> builtins.list[TransformRecord]:
        """Transforms still ``running`` that were recorded before ``before``, oldest first,
        after the ``(created_at, id)`` cursor (without their outputs: they have none yet)."""
        query = select(TransformRow).where(
            TransformRow.status == "running", TransformRow.created_at < before
        )
        if after is not None:
            at, last_id = after
            query = query.where(
                or_(
                    TransformRow.created_at > at,
                    and_(TransformRow.created_at == at, TransformRow.id > last_id),
                )
            )
        query = query.order_by(TransformRow.created_at, TransformRow.id).limit(limit)
        async with self._read() as session:
            return [_record(row, []) for row in (await session.scalars(query)).all()]

    async def interrupt(
        self, transform_id: str, *, error_code: str, error_message: str
    ) -> TransformRecord | None:
        """End a transform that is still ``running`` as failed with the error, its upload
        forgotten unless kept; None when it is not running any more (something ended it)."""
        async with self._write() as session:
            row = await session.get(TransformRow, transform_id, with_for_update=True)
            if row is None or row.status != "running":
                return None
            now = self._now()
            row.status = "failed"
            row.error_code = error_code
            row.error_message = error_message
            row.processing_time_s = round((now - row.created_at).total_seconds(), 1)
            if not row.input_kept:
                row.input_asset_id = None
            row.updated_at = now
            await session.flush()
            return _record(row, [])

    async def get(self, transform_id: str) -> TransformRecord:
        async with self._read() as session:
            row = await session.get(TransformRow, transform_id)
            if row is None:
                raise _missing(transform_id)
            return _record(row, await _outputs(session, [transform_id]))

    async def list(
        self, *, project_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> builtins.list[TransformRecord]:
        """Newest first."""
        check_page(limit, offset)
        query = select(TransformRow).order_by(TransformRow.created_at.desc(), TransformRow.id)
        if project_id is not None:
            query = query.where(TransformRow.project_id == project_id)
        async with self._read() as session:
            rows = list((await session.scalars(query.limit(limit).offset(offset))).all())
            outputs = await _outputs(session, [row.id for row in rows])
            return [_record(row, [o for o in outputs if o.transform_id == row.id]) for row in rows]


async def _outputs(session: AsyncSession, transform_ids: Sequence[str]) -> list[OutputRow]:
    if not transform_ids:
        return []
    query = (
        select(OutputRow)
        .where(OutputRow.transform_id.in_(transform_ids))
        .order_by(OutputRow.transform_id, OutputRow.position)
    )
    return list((await session.scalars(query)).all())


def _output_fields(output: OutputRecord) -> dict[str, Any]:
    return {
        "position": output.position,
        "variation": output.variation,
        "asset_id": output.asset_id,
        "job_id": output.job_id,
        "content_type": output.content_type,
        "identity_distance": output.identity_distance,
        "identity_passed": output.identity_passed,
        "identity_note": output.identity_note,
    }


def _missing(transform_id: str) -> NotFound:
    return NotFound(f"No transform {transform_id!r}.", details={"transform_id": transform_id})


def _record(row: TransformRow, outputs: Sequence[OutputRow]) -> TransformRecord:
    return TransformRecord(
        id=row.id,
        status=row.status,
        source=row.source,
        project_id=row.project_id,
        media_kind=row.media_kind,
        media_content_type=row.media_content_type,
        media_size_bytes=row.media_size_bytes,
        media_width=row.media_width,
        media_height=row.media_height,
        media_duration_s=row.media_duration_s,
        input_asset_id=row.input_asset_id,
        input_kept=row.input_kept,
        description_chars=row.description_chars,
        description=row.description,
        style_preset=row.style_preset,
        aspect_ratio=row.aspect_ratio,
        output_count=row.output_count,
        variation_count=row.variation_count,
        provider=row.provider,
        model_used=row.model_used,
        run_id=row.run_id,
        fallback_run_id=row.fallback_run_id,
        processing_time_s=row.processing_time_s,
        identity_threshold=row.identity_threshold,
        details=dict(row.details or {}),
        error_code=row.error_code,
        error_message=row.error_message,
        created_at=row.created_at,
        updated_at=row.updated_at,
        outputs=tuple(
            OutputRecord(
                position=o.position,
                variation=o.variation,
                asset_id=o.asset_id,
                job_id=o.job_id,
                content_type=o.content_type,
                identity_distance=o.identity_distance,
                identity_passed=o.identity_passed,
                identity_note=o.identity_note,
            )
            for o in outputs
        ),
    )
