"""One local studio job, rendered: what a render process runs (see :mod:`.pool`).

:func:`render_job` takes the request, the options and the studio's settings (all of which
pickle) and gives back the :class:`~reelforge.providers.base.Succeeded` result, or a
:class:`Refusal` for a job that cannot be made (an undecodable image, an encoder error): our
errors carry keyword-only fields that do not survive pickling, so the refusal travels as plain
data and becomes a :class:`~reelforge.providers.local.errors.LocalStudioError` again in the
server (:meth:`Refusal.error`).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from reelforge.errors import InvalidInput, ReelforgeError
from reelforge.imaging.filters import apply_style
from reelforge.providers.base import (
    Capability,
    GenerationMetadata,
    GenerationRequest,
    OutputMedia,
    Succeeded,
)
from reelforge.providers.briefs import SceneBrief
from reelforge.providers.local.animatic import MAX_KEY_FRAMES, Focus, render_animatic
from reelforge.providers.local.dressing import LAYOUT_CHUNK
from reelforge.providers.local.errors import LocalStudioError
from reelforge.providers.local.previz import draw_previz
from reelforge.providers.local.reference_figures import ReferenceCast
from reelforge.providers.local.turnaround import draw_view

if TYPE_CHECKING:
    from reelforge.providers.local.studio import LocalStudioOptions, LocalStudioSettings

__all__ = [
    "ANIMATIC_MODEL",
    "FILTER_MODEL",
    "LAYOUT_CHUNK",
    "PREVIZ_MODEL",
    "Refusal",
    "model_for",
    "render",
    "render_job",
    "subject_focus",
]

PREVIZ_MODEL = "reelforge-previz-1"
ANIMATIC_MODEL = "reelforge-animatic-1"
FILTER_MODEL = "reelforge-filter-1"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a job could not be made, as plain data."""

    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def error(self) -> LocalStudioError:
        return LocalStudioError(self.message, provider="local", details=self.details)


def render_job(
    request: GenerationRequest, options: LocalStudioOptions, settings: LocalStudioSettings
) -> Succeeded | Refusal:
    """:func:`render`, with our errors as a :class:`Refusal`; in a render process."""
    try:
        return render(request, options, settings)
    except ReelforgeError as exc:
        return Refusal(exc.message, dict(exc.details))


def render(
    request: GenerationRequest, options: LocalStudioOptions, settings: LocalStudioSettings
) -> Succeeded:
    """The job's output: a previz still, a styled image, or an animatic clip."""
    started = time.perf_counter()
    seed = request.seed if request.seed is not None else _seed_from(request.prompt)
    capability = request.capability
    extra: dict[str, object] = {}
    cast = ReferenceCast.of(request.scene, request.references)
    if cast.names:
        extra["reference_figures"] = list(cast.names)
    if not capability.makes_video and request.scene is not None and request.scene.view:
        # A view of a character's 360° set, turned, with the face of the image it was given.
        given = (*request.images, *request.references)
        view = draw_view(
            request.scene, given[0] if given else None, width=request.width, height=request.height
        )
        output = OutputMedia(data=_png(view.image), content_type="image/png")
        extra["view"] = view.record()
    elif capability is Capability.TEXT_TO_IMAGE:
        previz = draw_previz(
            _brief(request), width=request.width, height=request.height, seed=seed, cast=cast
        )
        record = previz.layout.as_record()
        output = OutputMedia(data=_png(previz.image, record), content_type="image/png")
        extra["layout"] = record
    elif capability is Capability.IMAGE_TO_IMAGE:
        source, _ = _decode_image(request, 0)
        preset = request.style_preset or "cinematic"
        styled = apply_style(source, preset, strength=options.strength)
        output = OutputMedia(data=_png(styled), content_type="image/png")
    else:
        if capability is Capability.TEXT_TO_VIDEO:
            # Drawn at 1.5x the clip's size so a push-in reveals detail, not upscaled pixels.
            previz = draw_previz(
                _brief(request),
                width=_even(request.width * 3 // 2),
                height=_even(request.height * 3 // 2),
                seed=seed,
                cast=cast,
            )
            frames = [previz.image]
            focus = [_focus(previz.layout.as_record(), previz.image.size)]
        else:
            count = min(MAX_KEY_FRAMES, len(request.images))
            decoded = [_decode_image(request, i) for i in range(count)]
            frames = [image for image, _ in decoded]
            focus = [_focus(record, image.size) for image, record in decoded]
        video = _animatic(request, frames, focus, settings)
        output = OutputMedia(data=video, content_type="video/mp4")
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    metadata = GenerationMetadata(
        model=model_for(request.capability),
        seed=seed,
        steps=0,
        inference_time_ms=elapsed_ms,
        extra={"kind": "previz" if not capability.makes_video else "animatic", **extra},
    )
    return Succeeded(outputs=(output,), metadata=metadata, cost_usd=Decimal("0"))


def _animatic(
    request: GenerationRequest,
    frames: list[Image.Image],
    focus: list[Focus | None],
    settings: LocalStudioSettings,
) -> bytes:
    assert request.duration_s is not None
    strength = 0.5 if request.motion_strength is None else request.motion_strength
    with tempfile.TemporaryDirectory(prefix="reelforge-animatic-") as folder:
        out = Path(folder) / "clip.mp4"
        render_animatic(
            frames,
            out=out,
            duration_s=request.duration_s,
            camera=request.camera_notes or (request.scene.camera_notes if request.scene else ""),
            motion_strength=strength,
            width=request.width,
            height=request.height,
            fps=settings.fps,
            crf=settings.crf,
            preset=settings.encoder_preset,
            focus=focus,
        )
        return out.read_bytes()


def model_for(capability: Capability) -> str:
    if capability.makes_video:
        return ANIMATIC_MODEL
    if capability is Capability.IMAGE_TO_IMAGE:
        return FILTER_MODEL
    return PREVIZ_MODEL


def _brief(request: GenerationRequest) -> SceneBrief:
    if request.scene is not None:
        return request.scene
    return SceneBrief(
        frame_id="PREVIZ", description=request.prompt, camera_notes=request.camera_notes
    )


def _even(value: int) -> int:
    return value - value % 2


def _seed_from(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _png(image: Image.Image, layout: dict[str, object] | None = None) -> bytes:
    buffer = io.BytesIO()
    info = None
    if layout is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(LAYOUT_CHUNK, json.dumps(layout, separators=(",", ":")), zip=True)
    image.save(buffer, format="PNG", optimize=False, pnginfo=info)
    return buffer.getvalue()


def _decode_image(request: GenerationRequest, index: int) -> tuple[Image.Image, object]:
    """The input image, and the layout record a previz still carries (None for others)."""
    source = request.images[index]
    assert source.data is not None  # checked at submit
    try:
        with Image.open(io.BytesIO(source.data)) as opened:
            return opened.convert("RGB"), layout_record(opened)
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInput(f"Input image {index} could not be decoded.") from exc


def layout_record(image: Image.Image) -> object:
    """The layout record a previz PNG carries (None for any other image)."""
    return _parsed(image.info.get(LAYOUT_CHUNK) if image.format == "PNG" else None)


def subject_focus(image: Image.Image) -> Focus | None:
    """Where the subject's face is in a previz PNG (fractions of the image), for an animatic
    to keep it in frame; None for any other image."""
    return _focus(layout_record(image), image.size)


def _parsed(text: object) -> object:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:  # a damaged chunk only loses the subject's framing
        return None


def _focus(record: object, size: tuple[int, int]) -> Focus | None:
    """The subject's face box in fractions of the image, from a previz layout record."""
    if not isinstance(record, dict):
        return None
    subject = record.get("subject")
    for seen in record.get("figures") or ():
        face = seen.get("face") if isinstance(seen, dict) else None
        if seen.get("name") != subject or not isinstance(face, list) or len(face) != 4:
            continue
        if not all(isinstance(v, int | float) for v in face):
            return None
        width, height = size
        x0, y0, x1, y1 = (
            min(max(float(v), 0.0), float(side))
            for v, side in zip(face, (width, height, width, height), strict=True)
        )
        if x1 <= x0 or y1 <= y0:
            return None
        return (x0 / width, y0 / height, x1 / width, y1 / height)
    return None
