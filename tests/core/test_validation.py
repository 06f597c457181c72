"""One translator from pydantic's complaints to ``INVALID_INPUT``, and one for MCP tool errors."""

from __future__ import annotations

import json

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ValidationError, model_validator

from reelforge.errors import InvalidInput, NotFound
from reelforge.tool_errors import tool_errors
from reelforge.validation import invalid_input, validation_problems


class Frame(BaseModel):
    frame_id: str
    seconds: float

    @model_validator(mode="after")
    def _short(self) -> Frame:
        if self.seconds > 10:
            raise ValueError("too long")
        return self


class Board(BaseModel):
    frames: list[Frame]


def _failure(model: type[BaseModel], data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


def test_each_problem_names_its_field_without_echoing_the_input() -> None:
    failure = _failure(Board, {"frames": [{"frame_id": "secret-value", "seconds": "x"}]})
    problems = validation_problems(failure.errors())
    assert problems == [{"field": "frames.0.seconds", "problem": problems[0]["problem"]}]
    assert "secret-value" not in json.dumps(problems)


def test_fastapi_locations_are_dropped_and_a_whole_object_error_is_the_body() -> None:
    errors: list[dict[str, object]] = [
        {"loc": ("body", "frames", 0), "msg": "bad"},
        {"loc": ("query", "wait_s"), "msg": "bad"},
        {"loc": ("body",), "msg": "bad"},
        {"loc": (), "msg": "bad"},
    ]
    fields = [problem["field"] for problem in validation_problems(errors)]
    assert fields == ["frames.0", "wait_s", "(body)", "(body)"]


def test_the_translator_names_every_field_and_keeps_the_callers_details() -> None:
    failure = _failure(Board, {"frames": [{"seconds": 1}, {"frame_id": "b", "seconds": 11}]})
    error = invalid_input(failure, "Invalid options for provider 'x'", details={"provider": "x"})
    assert isinstance(error, InvalidInput)
    assert error.message == "Invalid options for provider 'x': frames.0.frame_id, frames.1."
    assert error.details["provider"] == "x"
    assert [p["field"] for p in error.details["fields"]] == ["frames.0.frame_id", "frames.1"]


def test_the_default_subject_is_an_invalid_request() -> None:
    error = invalid_input(_failure(Frame, {}))
    assert error.message == "Invalid request: frame_id, seconds."


async def test_a_tool_error_carries_our_envelope() -> None:
    @tool_errors
    async def lookup(name: str) -> str:
        raise NotFound(f"No such thing: {name}.", details={"name": name})

    with pytest.raises(ToolError) as caught:
        await lookup("kite")
    assert json.loads(str(caught.value)) == {
        "success": False,
        "error": NotFound("No such thing: kite.", details={"name": "kite"}).to_payload(),
    }


async def test_a_tool_passes_its_result_and_foreign_errors_through() -> None:
    @tool_errors
    async def echo(value: int) -> int:
        if value < 0:
            raise ValueError("negative")
        return value

    assert await echo(3) == 3
    with pytest.raises(ValueError, match="negative"):
        await echo(-1)
