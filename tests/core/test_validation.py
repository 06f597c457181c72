"""One translator from pydantic's complaints to ``INVALID_INPUT``, one for MCP tool errors, and
the values nothing can keep (NUL, lone surrogates, integers past 64 bits) found and refused."""

from __future__ import annotations

import json

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ValidationError, model_validator

from reelforge.errors import InvalidInput, NotFound
from reelforge.tool_errors import tool_errors
from reelforge.validation import (
    invalid_input,
    last_event_id,
    refuse_unstorable,
    unstorable_values,
    validation_problems,
)


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
        {"loc": ("path", "turn_number"), "msg": "bad"},
        {"loc": ("body",), "msg": "bad"},
        {"loc": (), "msg": "bad"},
    ]
    fields = [problem["field"] for problem in validation_problems(errors)]
    assert fields == ["frames.0", "wait_s", "turn_number", "(body)", "(body)"]


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


def test_values_nothing_can_keep_are_found_anywhere_and_named_never_echoed() -> None:
    value = {
        "frames": [{"note": "fine"}, {"note": "secret\x00value"}],
        "visual": {"hair": f"secret{chr(0xDFFF)}value"},
        "count": 2**63,
        "floor": -(2**63) - 1,
        "largest": 2**63 - 1,
        "flag": True,
        "secret\x00key": "value",
    }
    problems = unstorable_values(value)
    assert sorted(p["field"] for p in problems) == [
        "(body)",  # the bad key, named by its object
        "count",
        "floor",
        "frames.1.note",
        "visual.hair",
    ]
    assert "secret" not in json.dumps(problems)
    assert unstorable_values({"text": "plain, é, 🎬", "list": [1, -(2**63)]}) == []


def test_a_refusal_names_every_field_or_speaks_a_fields_own_words() -> None:
    refuse_unstorable([])  # nothing wrong, nothing raised
    with pytest.raises(InvalidInput) as generic:
        refuse_unstorable(unstorable_values({"name": "a\x00", "n": 2**64}))
    assert generic.value.message == "Invalid request: name, n."
    assert [p["field"] for p in generic.value.details["fields"]] == ["name", "n"]
    problems = unstorable_values({"payload": {"prompt": f"x{chr(0xD800)}"}})
    with pytest.raises(InvalidInput) as own:
        refuse_unstorable(problems, messages={"prompt": "Describe the scene."})
    assert own.value.message == "Describe the scene."
    assert own.value.details["field"] == "payload.prompt"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("42", 42), (" 7 ", 7), (None, None), ("", None), ("-1", None), ("\u00b2", None)],
)
def test_an_event_id_sent_back_is_a_number_a_column_holds(
    header: str | None, expected: int | None
) -> None:
    assert last_event_id(header) == expected
    assert last_event_id(str(2**63 - 1)) == 2**63 - 1
    assert last_event_id(str(2**63)) is None


async def test_a_tool_refuses_arguments_nothing_can_keep_before_it_runs() -> None:
    ran: list[str] = []

    @tool_errors
    async def create(name: str, limit: int = 1) -> str:
        ran.append(name)
        return name

    @tool_errors(messages={"scene_description": "Describe the scene."})
    async def transform(scene_description: str) -> str:
        ran.append(scene_description)
        return scene_description

    with pytest.raises(ToolError) as generic:
        await create(name="a\x00b")
    error = json.loads(str(generic.value))["error"]
    assert (error["code"], error["message"]) == ("INVALID_INPUT", "Invalid arguments: name.")
    with pytest.raises(ToolError) as number:
        await create(name="fine", limit=2**63)
    assert json.loads(str(number.value))["error"]["details"]["fields"][0]["field"] == "limit"
    with pytest.raises(ToolError) as own:
        await transform(scene_description=f"x{chr(0xD800)}")
    assert json.loads(str(own.value))["error"]["message"] == "Describe the scene."
    assert ran == []
