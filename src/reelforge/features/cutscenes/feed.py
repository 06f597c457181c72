"""The media announcements of a campaign session: what the SSE stream sends, replayable.

Announcements are rows of ``media_events`` (written with the media record they describe, see
:mod:`.repository`), so a client that reconnects with ``Last-Event-ID`` gets what it missed,
whichever process made the media. Followers in this process are woken at once; those in other
processes see new rows at their next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

from reelforge.budget.records import usd
from reelforge.features.cutscenes.identity import identity_fields
from reelforge.features.cutscenes.repository import CutsceneRepository, EventDraft, MediaDraft
from reelforge.features.cutscenes.schemas import CutsceneType, MediaEventKind
from reelforge.features.cutscenes.tables import MediaEventRecord, MediaRecord

__all__ = [
    "MediaFeed",
    "event",
    "event_json",
    "media_url",
    "media_view",
    "pending_event",
]


def media_url(service_url: str, media_id: str) -> str:
    """Where the API serves a media record's file, under the service's public URL."""
    return f"{service_url}/api/media/{media_id}"


def media_view(record: MediaRecord, service_url: str) -> dict[str, Any]:
    """A media record as the API shows it (the spec's columns; the file as a URL under
    ``service_url``, the public URL), with ``identity``, ``quality_score`` and ``warnings``
    once its faces are measured."""
    return {
        "id": record.id,
        "cutscene_id": record.cutscene_id,
        "campaign_id": record.campaign_id,
        "session_id": record.session_id,
        "turn_number": record.turn_number,
        "asset_type": record.asset_type,
        "cutscene_type": record.cutscene_type,
        "location_name": record.location_name,
        "status": record.status,
        "url": media_url(service_url, record.id) if record.status == "complete" else None,
        "asset_id": record.asset_id,
        "image_prompt": record.image_prompt,
        "motion_prompt": record.motion_prompt,
        "duration_seconds": record.duration_seconds,
        "cost_usd": usd(record.cost_usd),
        "error": (
            None
            if record.error_code is None
            else {"code": record.error_code, "message": record.error_message or ""}
        ),
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        **identity_fields(record),
    }


def event(kind: MediaEventKind, media: MediaRecord, **extra: Any) -> EventDraft:
    """The announcement of ``media`` reaching ``kind`` (keyed, so it is made once)."""
    payload: dict[str, Any] = {
        "asset_type": media.asset_type,
        "cutscene_type": media.cutscene_type,
        "turn_number": media.turn_number,
        "location_name": media.location_name,
        **extra,
    }
    return EventDraft(kind=kind, key=f"{kind}:{media.id}", media_id=media.id, payload=payload)


def pending_event(
    cutscene_type: CutsceneType,
    turn: int | None,
    draft: MediaDraft,
    kind: Literal["pending", "generating"] = "pending",
) -> EventDraft:
    """An announcement of a media record made with the cutscene: ``pending``, then
    ``generating`` for one whose run is started already (the keys :func:`event` gives)."""
    return EventDraft(
        kind=kind,
        key=f"{kind}:{draft.id}",
        media_id=draft.id,
        payload={
            "asset_type": draft.asset_type,
            "cutscene_type": cutscene_type.value,
            "turn_number": turn,
            "location_name": draft.location_name,
            "status": kind,
        },
    )


def event_json(event: MediaEventRecord) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "at": event.at.isoformat(),
        "campaign_id": event.campaign_id,
        "session_id": event.session_id,
        "cutscene_id": event.cutscene_id,
        "media_id": event.media_id,
        **event.payload,
    }


class MediaFeed:
    """Follows the announcements of campaign sessions; one per process."""

    def __init__(self, repository: CutsceneRepository, *, poll_s: float) -> None:
        self._repository = repository
        self._poll_s = poll_s
        self._waiters: dict[tuple[str, str], set[asyncio.Event]] = {}

    def wake(self, campaign_id: str, session_id: str) -> None:
        """Tell this process's followers of the session that something was announced."""
        for waiter in self._waiters.get((campaign_id, session_id), ()):
            waiter.set()

    async def after(
        self, campaign_id: str, session_id: str, after_id: int = 0
    ) -> list[MediaEventRecord]:
        return await self._repository.events_after(campaign_id, session_id, after_id)

    async def follow(
        self, campaign_id: str, session_id: str, after_id: int = 0
    ) -> AsyncIterator[MediaEventRecord]:
        """The session's announcements after ``after_id``, then each new one as it comes,
        until the caller stops iterating."""
        stream = (campaign_id, session_id)
        woken = asyncio.Event()
        self._waiters.setdefault(stream, set()).add(woken)
        try:
            while True:
                woken.clear()
                for event in await self._repository.events_after(*stream, after_id):
                    after_id = event.id
                    yield event
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self._poll_s)
        finally:
            waiters = self._waiters.get(stream)
            if waiters is not None:
                waiters.discard(woken)
                if not waiters:
                    del self._waiters[stream]
