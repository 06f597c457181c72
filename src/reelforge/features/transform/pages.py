"""The Cinematic Switch page, ``GET /cinematic-switch``: upload, describe, pick a style,
submit, follow the progress (``POST /generate/cinematic`` with ``Accept:
application/x-ndjson``), download. It shows the spec's messages.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from reelforge.facekit.pages import render
from reelforge.features.transform.schemas import ASPECT_RATIOS, MAX_OUTPUT_COUNT, STYLE_PRESETS
from reelforge.features.transform.service import TransformService
from reelforge.features.transform.validation import FORMAT_MESSAGE, MEDIA_MESSAGE, TEXT_MESSAGE

__all__ = ["page_router"]


def page_router(service: TransformService) -> APIRouter:
    """``GET /cinematic-switch``: upload, describe, pick a style, submit, follow, download;
    saying up front when only the offline studio's style look is available."""
    router = APIRouter(include_in_schema=False)

    @router.get("/cinematic-switch")
    async def cinematic_switch_page() -> HTMLResponse:
        return render(
            "transform/cinematic_switch.html",
            presets=list(STYLE_PRESETS),
            aspect_ratios=list(ASPECT_RATIOS),
            max_outputs=MAX_OUTPUT_COUNT,
            offline=service.offline_notice(),
            messages={
                "media": MEDIA_MESSAGE,
                "format": FORMAT_MESSAGE,
                "text": TEXT_MESSAGE,
                "failed": "Transformation failed. Please try again with a different "
                "description or media.",
                "timeout": "Processing took too long. Please try again.",
                # The form's own checks, in the user's words (the API's name the fields).
                "choose_media": "Choose a photo or video.",
                "describe_scene": "Describe the new scene.",
            },
        )

    return router
