"""The transform prompt, from the spec's template.

The spec's parts: a static system part (keep the face, integrate naturally), the user part with
the scene description inserted verbatim (twice: the request and the scene details), then the
optional style preset and aspect ratio. Image and video models take one prompt, so the system
part leads it when there is room. Past a provider's limit the prompt is shortened in this order,
each step only if still needed: drop the system part, drop the repeated scene details, cut the
description at a word boundary (the spec's "truncated to the limit").
"""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.features.transform.schemas import TransformRequest

__all__ = ["SYSTEM_PROMPT", "TransformPrompt", "build_prompt"]

SYSTEM_PROMPT = (
    "Transform the person in this image/video into the described scene while maintaining their "
    "recognizable facial features. Apply the transformation realistically and integrate them "
    "naturally into the new setting."
)
_MAINTAIN = "Maintain their recognizable facial features while applying the transformation."
_ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class TransformPrompt:
    """The text sent to the provider, and how it was fitted to the limit."""

    text: str
    system_included: bool
    truncated: bool


def build_prompt(request: TransformRequest, limit: int) -> TransformPrompt:
    """The prompt for ``request``, at most ``limit`` characters."""
    tail = _tail(request)
    if request.verbatim_prompt:
        user = request.scene_description + tail
        if len(user) <= limit:
            return TransformPrompt(user, False, False)
        return TransformPrompt(
            _cut(request.scene_description, limit - len(tail)) + tail, False, True
        )
    description = request.scene_description
    full_user = f"{_request_line(description)} Scene details: {description}{tail}"
    with_system = f"{SYSTEM_PROMPT}\n\n{full_user}"
    if len(with_system) <= limit:
        return TransformPrompt(with_system, True, False)
    if len(full_user) <= limit:
        return TransformPrompt(full_user, False, False)
    compact = _request_line(description) + tail
    if len(compact) <= limit:
        return TransformPrompt(compact, False, False)
    room = limit - (len(compact) - len(description))
    return TransformPrompt(_request_line(_cut(description, room)) + tail, False, True)


def _request_line(description: str) -> str:
    stop = "" if description.endswith((".", "!", "?", _ELLIPSIS)) else "."
    return f"Transform this person into {description}{stop} {_MAINTAIN}"


def _tail(request: TransformRequest) -> str:
    lines = []
    if request.style_preset:
        lines.append(f"Style: {request.style_preset}")
    if request.aspect_ratio != "original":
        lines.append(f"Aspect ratio: {request.aspect_ratio}")
    return "\n\n" + "\n".join(lines) if lines else ""


def _cut(text: str, room: int) -> str:
    """``text`` cut to ``room`` characters at a word boundary, marked with an ellipsis."""
    if room <= 1:
        return _ELLIPSIS[:room]
    if len(text) <= room:
        return text
    cut = text[: room - 1]
    space = cut.rfind(" ")
    if space > room // 2:
        cut = cut[:space]
    return cut.rstrip() + _ELLIPSIS
