"""Finding a Leonardo generation a crash cut off: the user's generations, newest first.

``GET /me`` names the key's user (``user_details[0].user.id``, read once per adapter), and
``GET /generations/user/{userId}?offset&limit`` lists that user's generations newest first, each
shaped as ``generations_by_pk`` (``id``, ``createdAt``, ``status``, ``prompt``,
``negativePrompt``, ``modelId``, ``imageWidth``, ``imageHeight``, ``seed``, ``presetStyle``,
``guidanceScale``, ``inferenceSteps``, ``generated_images``), in flight included.

A text-to-image generation matches when it was created after ``submitted_after`` (less the
slack of :mod:`reelforge.providers.lookup`) with exactly this request's prompt, negative prompt and
size, and, where the request sets them and the listing shows them, its model, seed, preset style,
guidance and steps (and, once finished, as many images as asked for). Without a model in the
request Leonardo picks its default, so the model is not compared then.

**Image-to-video is not looked up.** Its input is an image Leonardo holds under an id (a fresh
upload for each submission), and the listing shows nothing that ties a clip to its image, so two
clips of one prompt from different images could not be told apart:
:meth:`~reelforge.providers.leonardo.adapter.LeonardoProvider.can_find_submission` is False for
such a request and :func:`find_generations` is never asked about one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from reelforge.providers.base import JobHandle
from reelforge.providers.http import malformed_body
from reelforge.providers.leonardo.wire import FAILURES, PROVIDER_ID
from reelforge.providers.lookup import CLOCK_SLACK_S, MAX_PAGES, epoch_of, same_json

__all__ = ["find_generations", "user_id_of"]

PAGE_SIZE = 50
Caller = Callable[[str, str], Awaitable[Any]]
# Listing field -> the create body's field, compared when the body sets it and the listing shows it.
_OPTIONAL = {
    "modelId": "modelId",
    "seed": "seed",
    "presetStyle": "presetStyle",
    "guidanceScale": "guidance_scale",
    "inferenceSteps": "num_inference_steps",
}


def user_id_of(body: Any) -> str:
    """The user id in ``GET /me``'s answer (raises a retryable error if it is not there)."""
    details = body.get("user_details") if isinstance(body, dict) else None
    first = details[0] if isinstance(details, list) and details else None
    user = first.get("user") if isinstance(first, dict) else None
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not user_id.replace("-", "").isalnum():
        raise malformed_body(FAILURES, "get_user", transient=True)
    return user_id


async def find_generations(
    call: Caller, user_id: str, model: str, body: Mapping[str, Any], submitted_after: float
) -> list[JobHandle]:
    """The user's generations made from ``body`` (a ``POST /generations`` body) after
    ``submitted_after``, oldest first. ``call(operation, path)`` makes one GET."""
    earliest = submitted_after - CLOCK_SLACK_S
    found: list[tuple[float, str]] = []
    offset = 0
    for _ in range(MAX_PAGES):
        path = f"/generations/user/{user_id}?offset={offset}&limit={PAGE_SIZE}"
        answer = await call("list_generations", path)
        generations = answer.get("generations") if isinstance(answer, dict) else None
        if not isinstance(generations, list):
            raise malformed_body(FAILURES, "list_generations", transient=True)
        older = False
        for generation in generations:
            if not isinstance(generation, dict):
                continue
            created = epoch_of(generation.get("createdAt"))
            if created is None or created < earliest:
                older = older or created is not None
                continue
            if _matches(generation, body):
                found.append((created, str(generation["id"])))
        # Newest first: a page that reaches past the window, or an empty one, is the last.
        if older or not generations:
            break
        offset += len(generations)
    # A job listed twice (the listing moved between pages) counts once.
    found = sorted(set(found))
    return [JobHandle(provider=PROVIDER_ID, request_id=rid, model=model) for _, rid in found]


def _matches(generation: dict[str, Any], body: Mapping[str, Any]) -> bool:
    if not isinstance(generation.get("id"), str) or not generation["id"]:
        return False
    negative = body.get("negative_prompt") or ""
    if not (
        generation.get("prompt") == body["prompt"]
        and (generation.get("negativePrompt") or "") == negative
        and generation.get("imageWidth") == body["width"]
        and generation.get("imageHeight") == body["height"]
    ):
        return False
    for listed, sent in _OPTIONAL.items():
        shown = generation.get(listed)
        if sent in body and shown is not None and not same_json(shown, body[sent]):
            return False
    images = generation.get("generated_images")
    if generation.get("status") == "COMPLETE" and isinstance(images, list) and images:
        return bool(len(images) == body.get("num_images", 1))
    return True
