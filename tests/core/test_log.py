"""Logs show facts, never data: no local variables in a traceback, whatever is installed (Rich
is, in this environment: the renderer's own formatter would print every frame's locals), no
request bodies, no media."""

from __future__ import annotations

import base64
import importlib.util
import json
from collections.abc import Iterator

import pytest
import structlog
from pydantic import BaseModel, Field, ValidationError

from reelforge.log import MAX_MESSAGE_CHARS, configure_logging, get_logger

DESCRIPTION = "A knight in a moonlit castle courtyard, holding a lantern, rain on the stones"
PHOTO = base64.b64encode(bytes(range(256)) * 40).decode()


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _render(description: str, photo: str) -> None:
    prompt = f"Transform this person into {description}"
    upload = {"image": photo, "prompt": prompt}
    raise RuntimeError(f"render failed after {len(upload)} fields")


def _logged(json_logs: bool, capsys: pytest.CaptureFixture[str]) -> str:
    configure_logging("info", json=json_logs)
    try:
        _render(DESCRIPTION, PHOTO)
    except RuntimeError as exc:
        get_logger("test").error("job.crashed", exc_info=exc)
    try:
        _render(DESCRIPTION, PHOTO)
    except RuntimeError:
        get_logger("test").exception("job.crashed_again")
    return capsys.readouterr().err


@pytest.mark.parametrize("json_logs", [False, True], ids=["console", "json"])
def test_a_logged_exception_shows_frames_and_never_local_values(
    json_logs: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert importlib.util.find_spec("rich") is not None, "the path that printed locals"
    logged = _logged(json_logs, capsys)
    assert "job.crashed" in logged
    assert "job.crashed_again" in logged
    assert "_render" in logged  # the frames are there
    assert "render failed after 2 fields" in logged  # and the error
    assert "knight" not in logged
    assert PHOTO[:40] not in logged
    if json_logs:
        lines = [json.loads(line) for line in logged.splitlines()]
        assert all("Traceback" in line["exception"] for line in lines)


def test_data_in_an_exception_message_is_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    class Upload(BaseModel):
        image: str = Field(max_length=100)

    configure_logging("info")
    log = get_logger("test")
    try:
        Upload(image=PHOTO)
    except ValidationError as exc:
        log.error("upload.invalid", exc_info=exc)
    try:
        raise ValueError(f"cannot decode {PHOTO}")
    except ValueError as exc:
        log.error("upload.undecodable", exc_info=exc)
    try:
        raise ValueError(DESCRIPTION * 20)
    except ValueError as exc:
        log.error("prompt.refused", exc_info=exc)
    logged = capsys.readouterr().err
    assert "upload.invalid" in logged
    assert "string_too_long" in logged
    assert "input_value=[omitted]" in logged
    assert "cannot decode [long value omitted]" in logged
    assert PHOTO[:24] not in logged
    # Cut to its first few hundred characters, saying how long it was.
    assert logged.count("knight") <= MAX_MESSAGE_CHARS // len(DESCRIPTION) + 1
    assert f"[{len(DESCRIPTION) * 20} characters in all]" in logged


def test_fields_holding_data_say_only_how_long_it_was(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info")
    get_logger("test").info("request.received", body=DESCRIPTION * 20, image=PHOTO.encode())
    logged = capsys.readouterr().err
    assert f"[{len(DESCRIPTION) * 20} characters omitted]" in logged
    assert f"[{len(PHOTO)} bytes omitted]" in logged
    assert "knight" not in logged
