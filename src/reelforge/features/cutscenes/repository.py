"""The cutscenes feature's SQL: cutscenes, media asset records, SSE events, media settings.

Each method is one transaction. A media record's status change and the event announcing it
are written together, so the stream never announces what the records do not show (and a
record never changes without its announcement). Events are idempotent on their key: a finish
step that runs twice announces once.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reelforge.catalog.repositories._base import (
    Repository,
    check_page,
    in_stream_order,
    json_document,
    retry_on_conflict,
)
from reelforge.errors import NotFound
from reelforge.features.cutscenes.schemas import CutsceneStage, MediaStatus
from reelforge.features.cutscenes.tables import (
    UNSET,
    CutsceneRecord,
    CutsceneRow,
    EventDraft,
    MediaAssetRow,
    MediaDraft,
    MediaEventRecord,
    MediaEventRow,
    MediaRecord,
    MediaSettingsRow,
    MediaUpdate,
    cutscene_record,
    event_record,
    media_record,
)

__all__ = ["CutsceneRepository", "EventDraft", "MediaDraft", "MediaUpdate", "add_media_event"]


def _missing(what: str, ident: str) -> NotFound:
    return NotFound(f"No {what} {ident!r}.", details={"id": ident})


class CutsceneRepository(Repository):
    """Cutscenes, their media records and announcements, and campaigns' media settings."""

    # -- cutscenes ---------------------------------------------------------------------------

    async def create(
        self,
        *,
        cutscene_id: str,
        kind: str,
        campaign_id: str,
        session_id: str,
        turn_number: int | None,
        cutscene_type: str,
        request: Mapping[str, Any],
        plan: Mapping[str, Any],
        clip_skipped_reason: str | None,
        media: Sequence[MediaDraft],
        events: Sequence[EventDraft],
        still_run_id: str,
    ) -> tuple[CutsceneRecord, builtins.list[MediaRecord]]:
        """The cutscene at its ``still`` stage (its still's run, started or to start, under
        ``still_run_id``), its media records (as their drafts say) and their announcements."""
        now = self._now()
        row = CutsceneRow(
            id=cutscene_id,
            kind=kind,
            campaign_id=campaign_id,
            session_id=session_id,
            turn_number=turn_number,
            cutscene_type=cutscene_type,
            request=json_document(request, "request"),
            plan=json_document(plan, "plan"),
            clip_skipped_reason=clip_skipped_reason,
            stage="still",
            still_run_id=still_run_id,
            created_at=now,
            updated_at=now,
        )
        media_rows = [
            MediaAssetRow(
                id=draft.id,
                cutscene_id=cutscene_id,
                campaign_id=campaign_id,
                session_id=session_id,
                turn_number=turn_number,
                asset_type=draft.asset_type,
                cutscene_type=cutscene_type,
                location_name=draft.location_name,
                image_prompt=draft.image_prompt,
                motion_prompt=draft.motion_prompt,
                duration_seconds=draft.duration_seconds,
                status=draft.status,
                run_id=draft.run_id,
                created_at=now,
                updated_at=now,
            )
            for draft in media
        ]
        async with self._write() as session:
            session.add(row)
            await session.flush()
            session.add_all(media_rows)
            await session.flush()
            for draft in events:
                await add_media_event(session, row, draft, now)
            await session.flush()
            return cutscene_record(row), [media_record(m) for m in media_rows]

    async def get(self, cutscene_id: str) -> CutsceneRecord:
        async with self._read() as session:
            row = await session.get(CutsceneRow, cutscene_id)
            if row is None:
                raise _missing("cutscene", cutscene_id)
            return cutscene_record(row)

    async def set_stage(
        self,
        cutscene_id: str,
        stage: CutsceneStage,
        *,
        still_run_id: str | None = UNSET,
        clip_run_id: str | None = UNSET,
        clip_skipped_reason: str | None = UNSET,
    ) -> CutsceneRecord:
        async with self._write() as session:
            row = await session.get(CutsceneRow, cutscene_id, with_for_update=True)
            if row is None:
                raise _missing("cutscene", cutscene_id)
            row.stage = stage
            if still_run_id is not UNSET:
                row.still_run_id = still_run_id
            if clip_run_id is not UNSET:
                row.clip_run_id = clip_run_id
            if clip_skipped_reason is not UNSET:
                row.clip_skipped_reason = (
                    None if clip_skipped_reason is None else clip_skipped_reason[:500]
                )
            row.updated_at = self._now()
            await session.flush()
            return cutscene_record(row)

    async def list_for_session(
        self, campaign_id: str, session_id: str, *, limit: int = 100
    ) -> builtins.list[CutsceneRecord]:
        """The session's latest cutscenes, oldest first."""
        check_page(limit, 0)
        query = (
            select(CutsceneRow)
            .where(CutsceneRow.campaign_id == campaign_id, CutsceneRow.session_id == session_id)
            .order_by(CutsceneRow.created_at.desc(), CutsceneRow.id.desc())
            .limit(limit)
        )
        async with self._read() as session:
            rows = list(await session.scalars(query))
            return [cutscene_record(row) for row in reversed(rows)]

    # -- media records -----------------------------------------------------------------------

    async def get_media(self, media_id: str) -> MediaRecord:
        async with self._read() as session:
            row = await session.get(MediaAssetRow, media_id)
            if row is None:
                raise _missing("media asset", media_id)
            return media_record(row)

    async def media_of(self, cutscene_id: str) -> builtins.list[MediaRecord]:
        query = (
            select(MediaAssetRow)
            .where(MediaAssetRow.cutscene_id == cutscene_id)
            .order_by(MediaAssetRow.created_at, MediaAssetRow.asset_type)
        )
        async with self._read() as session:
            return [media_record(row) for row in await session.scalars(query)]

    async def list_media(
        self,
        campaign_id: str,
        *,
        session_id: str | None = None,
        turn_number: int | None = None,
        status: MediaStatus | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = True,
    ) -> builtins.list[MediaRecord]:
        check_page(limit, offset)
        query = select(MediaAssetRow).where(MediaAssetRow.campaign_id == campaign_id)
        if session_id is not None:
            query = query.where(MediaAssetRow.session_id == session_id)
        if turn_number is not None:
            query = query.where(MediaAssetRow.turn_number == turn_number)
        if status is not None:
            query = query.where(MediaAssetRow.status == status)
        if newest_first:
            query = query.order_by(MediaAssetRow.created_at.desc(), MediaAssetRow.asset_type)
        else:
            query = query.order_by(MediaAssetRow.created_at, MediaAssetRow.asset_type)
        async with self._read() as session:
            rows = await session.scalars(query.limit(limit).offset(offset))
            return [media_record(row) for row in rows]

    async def spent(self, campaign_id: str, session_id: str | None) -> tuple[Decimal, int]:
        """What the campaign's (or session's) media cost so far, and how many were made."""
        query = select(
            func.coalesce(func.sum(MediaAssetRow.cost_usd), 0), func.count(MediaAssetRow.id)
        ).where(MediaAssetRow.campaign_id == campaign_id, MediaAssetRow.status == "complete")
        if session_id is not None:
            query = query.where(MediaAssetRow.session_id == session_id)
        async with self._read() as session:
            total, count = (await session.execute(query)).one()
            return Decimal(str(total)), int(count)

    async def update_media(
        self, media_id: str, change: MediaUpdate, event: EventDraft | None = None
    ) -> MediaRecord:
        """Change a media record and announce it, in one transaction."""

        async def attempt() -> MediaRecord:
            async with self._write() as session:
                row = await session.get(MediaAssetRow, media_id, with_for_update=True)
                if row is None:
                    raise _missing("media asset", media_id)
                for name, value in change.changes().items():
                    setattr(row, name, value)
                now = self._now()
                row.updated_at = now
                if event is not None:
                    cutscene = await session.get(CutsceneRow, row.cutscene_id)
                    assert cutscene is not None
                    await add_media_event(session, cutscene, event, now)
                await session.flush()
                return media_record(row)

        return await retry_on_conflict(attempt)

    # -- events ------------------------------------------------------------------------------

    async def append_event(self, cutscene_id: str, event: EventDraft) -> None:
        async def attempt() -> None:
            async with self._write() as session:
                cutscene = await session.get(CutsceneRow, cutscene_id)
                if cutscene is None:
                    raise _missing("cutscene", cutscene_id)
                await add_media_event(session, cutscene, event, self._now())

        await retry_on_conflict(attempt)

    async def events_after(
        self, campaign_id: str, session_id: str, after_id: int = 0, limit: int = 500
    ) -> builtins.list[MediaEventRecord]:
        query = (
            select(MediaEventRow)
            .where(
                and_(
                    MediaEventRow.campaign_id == campaign_id,
                    MediaEventRow.session_id == session_id,
                    MediaEventRow.id > after_id,
                )
            )
            .order_by(MediaEventRow.id)
            .limit(limit)
        )
        async with self._read() as session:
            return [event_record(row) for row in await session.scalars(query)]

    async def last_event_id(self, campaign_id: str, session_id: str) -> int:
        query = select(func.max(MediaEventRow.id)).where(
            MediaEventRow.campaign_id == campaign_id, MediaEventRow.session_id == session_id
        )
        async with self._read() as session:
            found = await session.scalar(query)
            return int(found or 0)

    # -- settings ----------------------------------------------------------------------------

    async def get_settings(self, campaign_id: str) -> dict[str, Any] | None:
        async with self._read() as session:
            row = await session.get(MediaSettingsRow, campaign_id)
            return None if row is None else dict(row.settings)

    async def put_settings(self, campaign_id: str, settings: Mapping[str, Any]) -> None:
        document = json_document(settings, "settings")

        async def attempt() -> None:
            async with self._write() as session:
                row = await session.get(MediaSettingsRow, campaign_id, with_for_update=True)
                if row is None:
                    session.add(
                        MediaSettingsRow(
                            campaign_id=campaign_id, settings=document, updated_at=self._now()
                        )
                    )
                else:
                    row.settings = document
                    row.updated_at = self._now()
                await session.flush()

        await retry_on_conflict(attempt)


async def add_media_event(
    session: AsyncSession, cutscene: CutsceneRow, event: EventDraft, at: datetime
) -> None:
    """Announce ``event`` in ``session``'s write transaction, unless its key is there already
    (a replay); its session's writers take turns (:func:`in_stream_order`)."""
    found = await session.scalar(select(MediaEventRow.id).where(MediaEventRow.key == event.key))
    if found is not None:
        return
    await in_stream_order(session, f"media_events:{cutscene.campaign_id}:{cutscene.session_id}")
    session.add(
        MediaEventRow(
            campaign_id=cutscene.campaign_id,
            session_id=cutscene.session_id,
            at=at,
            kind=event.kind,
            cutscene_id=cutscene.id,
            media_id=event.media_id,
            key=event.key,
            payload=json_document(event.payload, "payload"),
        )
    )
    await session.flush()
