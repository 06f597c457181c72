"""The spec's checks without a server: fields, media by content and size, the face check, the
prompt template."""

from __future__ import annotations

import pytest
from PIL import Image

from reelforge.errors import InvalidInput
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.prompting import SYSTEM_PROMPT, build_prompt
from reelforge.features.transform.schemas import TransformRequest
from reelforge.features.transform.validation import (
    FORMAT_MESSAGE,
    MEDIA_MESSAGE,
    TEXT_MESSAGE,
    FaceTooSmall,
    MediaGate,
    SeveralFacesFound,
    check_face,
    parse_request,
)
from reelforge.imaging.faces import FaceAnalyzer, NoFaceFound
from transform.transform_support import (
    IMAGE_LIMIT,
    MP4_HEADER,
    PNG_HEADER,
    VIDEO_LIMIT,
    MiB,
    astronaut,
    encoded,
    grace_hopper,
    no_face,
    padded,
    tiny_face,
    two_people,
)

SETTINGS = TransformSettings()


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(detect_max_side=SETTINGS.face_detect_max_side)


def _fed(chunks: object) -> MediaGate:
    gate = MediaGate(SETTINGS)
    for chunk in chunks:  # type: ignore[attr-defined]
        gate.feed(chunk)
    return gate


def test_an_image_of_exactly_16_mb_passes_and_one_byte_more_is_refused_as_it_arrives() -> None:
    gate = _fed(padded(PNG_HEADER, IMAGE_LIMIT))
    assert gate.finish().content_type == "image/png"

    gate = MediaGate(SETTINGS)
    chunks = padded(PNG_HEADER, IMAGE_LIMIT + 1)
    fed = 0
    for chunk in chunks:
        if fed + len(chunk) > IMAGE_LIMIT:
            break
        gate.feed(chunk)
        fed += len(chunk)
    with pytest.raises(InvalidInput) as refused:
        gate.feed(chunk)
    assert refused.value.code == "INVALID_INPUT"
    assert refused.value.message == MEDIA_MESSAGE
    assert refused.value.details["reason"] == "too_large"
    # Refused with the chunk that holds byte 16 MB + 1: nothing past the limit was accepted.
    assert IMAGE_LIMIT - MiB < fed <= IMAGE_LIMIT


def test_a_video_may_be_100_mb_but_not_one_byte_more() -> None:
    assert _fed(padded(MP4_HEADER, VIDEO_LIMIT)).finish().content_type == "video/mp4"
    with pytest.raises(InvalidInput) as refused:
        _fed(padded(MP4_HEADER, VIDEO_LIMIT + 1))
    assert refused.value.message == MEDIA_MESSAGE
    assert refused.value.details == {
        "field": "media",
        "reason": "too_large",
        "kind": "video",
        "max_bytes": VIDEO_LIMIT,
        "limit": "100MB",
    }


@pytest.mark.parametrize(
    "content",
    [
        encoded(Image.new("RGB", (40, 30)), "GIF"),
        encoded(Image.new("RGB", (40, 30)), "WEBP"),
        b"%PDF-1.7\n" + bytes(400),
        b"just some text that claims to be photo.jpg " * 10,
    ],
    ids=["gif", "webp", "pdf", "text"],
)
def test_types_are_judged_by_content(content: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        _fed([content]).finish()
    assert refused.value.code == "INVALID_INPUT"
    assert refused.value.message == FORMAT_MESSAGE


def test_an_empty_file_is_a_media_error() -> None:
    with pytest.raises(InvalidInput) as refused:
        MediaGate(SETTINGS).finish()
    assert (refused.value.message, refused.value.details["reason"]) == (MEDIA_MESSAGE, "empty")


@pytest.mark.parametrize("length", [9, 2001])
def test_descriptions_of_9_and_2001_characters_are_refused(length: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_request({"scene_description": "x" * length}, SETTINGS)
    assert refused.value.code == "INVALID_INPUT"
    assert refused.value.message == TEXT_MESSAGE
    assert refused.value.details["length"] == length


def test_descriptions_are_measured_after_trimming() -> None:
    assert parse_request({"scene_description": "  " + "y" * 10 + "\n"}, SETTINGS).scene_description
    assert parse_request({"scene_description": "z" * 2000 + "   "}, SETTINGS).scene_description
    with pytest.raises(InvalidInput, match="50-500 words"):
        parse_request({"scene_description": "   " + "y" * 9 + "   "}, SETTINGS)


@pytest.mark.parametrize("value", [None, "", "   \n\t"])
def test_a_missing_or_blank_description_is_the_specs_missing_field(value: str | None) -> None:
    fields = {} if value is None else {"scene_description": value}
    with pytest.raises(InvalidInput) as refused:
        parse_request(fields, SETTINGS)
    assert refused.value.to_payload() == {
        "code": "INVALID_INPUT",
        "message": "Missing required field: scene_description",
        "details": {
            "field": "scene_description",
            "reason": "Scene description is required and must be non-empty",
        },
        "statusCode": 400,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("output_count", "0"),
        ("output_count", "6"),
        ("output_count", "two"),
        ("aspect_ratio", "2:1"),
        ("style_preset", "baroque"),
        ("keep_upload", "maybe"),
    ],
)
def test_optional_fields_are_checked(field: str, value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_request({"scene_description": "a knight in a castle", field: value}, SETTINGS)
    assert refused.value.details["field"] == field


def test_optional_fields_have_the_specs_defaults() -> None:
    request = parse_request({"scene_description": "a knight in a castle"}, SETTINGS)
    assert (request.output_count, request.aspect_ratio, request.style_preset) == (
        1,
        "original",
        None,
    )
    assert request.keep_upload is False


def test_the_prompt_follows_the_template_with_the_description_verbatim() -> None:
    description = "a 1920s flapper in a speakeasy, holding a champagne glass"
    request = TransformRequest(description, style_preset="vintage", aspect_ratio="16:9")
    prompt = build_prompt(request, 2000)
    assert prompt.text == (
        f"{SYSTEM_PROMPT}\n\nTransform this person into {description}. Maintain their "
        "recognizable facial features while applying the transformation. Scene details: "
        f"{description}\n\nStyle: vintage\nAspect ratio: 16:9"
    )
    assert not prompt.truncated


def test_a_long_prompt_is_shortened_to_the_providers_limit() -> None:
    words = " ".join(f"word{i}" for i in range(400))[:2000]
    prompt = build_prompt(TransformRequest(words, style_preset="noir"), 1000)
    assert len(prompt.text) <= 1000
    assert prompt.truncated
    assert not prompt.system_included
    assert prompt.text.startswith("Transform this person into word0 word1")
    assert prompt.text.endswith("\n\nStyle: noir")
    assert "Scene details" not in prompt.text


def test_one_clear_face_passes(analyzer: FaceAnalyzer) -> None:
    face = check_face(analyzer, astronaut(), SETTINGS)
    assert face.box.height > 64
    assert check_face(analyzer, grace_hopper(), SETTINGS).height_ratio > 0.3


def test_no_face_several_faces_and_a_tiny_face_are_refused(analyzer: FaceAnalyzer) -> None:
    with pytest.raises(NoFaceFound) as none:
        check_face(analyzer, no_face(), SETTINGS)
    assert none.value.code == "NO_FACE_DETECTED"
    with pytest.raises(SeveralFacesFound) as several:
        check_face(analyzer, two_people(), SETTINGS)
    assert (several.value.code, several.value.details["faces"]) == ("MULTIPLE_FACES_DETECTED", 2)
    with pytest.raises(FaceTooSmall) as small:
        check_face(analyzer, tiny_face(), SETTINGS)
    assert small.value.code == "FACE_TOO_SMALL"
    assert small.value.details["face_height_ratio"] < SETTINGS.min_face_height_ratio
