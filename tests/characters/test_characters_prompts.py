"""Prompt suggestions: the deterministic one from stored facts only, and the LLM one against a
tiny OpenAI-compatible server on loopback (never the network), falling back on any failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.features.characters.config import CharacterLlmSettings
from reelforge.features.characters.prompting import (
    MASTER_FRAMING,
    FactualSuggester,
    LlmSuggester,
    reference_prompt,
    without_quotes,
)
from reelforge.features.characters.repository import CharacterRecord
from reelforge.services import open_services

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _character(**overrides: Any) -> CharacterRecord:
    values: dict[str, Any] = {
        "id": "c1",
        "project_id": None,
        "name": "Mara Quell",
        "description": "The harbour's night pilot.",
        "visual": {"hair": "silver", "clothing": 'a "lucky" red scarf'},
        "library_db_id": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return CharacterRecord(**values)


@dataclass
class FakeLlm:
    """An OpenAI-compatible chat endpoint: answers ``content`` (or ``status``), keeps requests."""

    content: str = "A portrait of Mara Quell."
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    async def chat(self, request: Request) -> JSONResponse:
        self.requests.append(
            {
                "headers": dict(request.headers),
                "body": await request.json(),
                "path": request.url.path,
            }
        )
        if self.status != 200:
            return JSONResponse({"error": {"message": "down"}}, status_code=self.status)
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": self.content}}
                ],
            }
        )


@pytest.fixture
async def llm() -> AsyncIterator[FakeLlm]:
    fake = FakeLlm()
    app = Starlette(routes=[Route("/v1/chat/completions", fake.chat, methods=["POST"])])
    async with serve_app(app) as base_url:
        fake.base_url = f"{base_url}/v1"
        yield fake


def test_the_factual_prompt_uses_only_stored_facts_in_order() -> None:
    prompt = reference_prompt(_character())
    assert prompt == (
        "Master reference image of Mara Quell. The harbour's night pilot. Hair: silver. "
        f"Clothing: a lucky red scarf. Framing: {MASTER_FRAMING}"
    )
    assert '"' not in prompt


def test_quotes_go_and_apostrophes_inside_words_stay() -> None:
    assert (
        without_quotes("\u201cHi\u201d, said 'Old' O'Brien's  dog") == "Hi, said Old O'Brien's dog"
    )


async def test_the_llm_phrases_the_facts_and_the_framing_is_kept(llm: FakeLlm) -> None:
    llm.content = '"Mara Quell, silver hair, a red scarf."'
    settings = CharacterLlmSettings(base_url=llm.base_url, model="tiny", api_key_env="LLM_KEY")
    async with httpx.AsyncClient(trust_env=False) as http:
        suggester = LlmSuggester(settings, http, {"LLM_KEY": "k-123"})
        prompt = await suggester.suggest(_character())
    assert prompt == f"Mara Quell, silver hair, a red scarf. Framing: {MASTER_FRAMING}"
    [sent] = llm.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer k-123"
    assert sent["body"]["model"] == "tiny"
    facts = sent["body"]["messages"][-1]["content"]
    assert "- Name: Mara Quell" in facts
    assert "- Hair: silver" in facts
    assert "Eyes" not in facts  # not stored, not asked about


async def test_an_llm_answer_with_the_framing_is_not_given_it_twice(llm: FakeLlm) -> None:
    llm.content = f"Mara Quell in oilskin. Framing: {MASTER_FRAMING}"
    async with httpx.AsyncClient(trust_env=False) as http:
        prompt = await LlmSuggester(CharacterLlmSettings(base_url=llm.base_url), http, {}).suggest(
            _character()
        )
    assert prompt.count(MASTER_FRAMING) == 1


@pytest.mark.parametrize("failure", ["http_500", "empty", "no_key", "no_url"])
async def test_the_llm_falls_back_to_the_facts(llm: FakeLlm, failure: str) -> None:
    settings = CharacterLlmSettings(base_url=llm.base_url)
    if failure == "http_500":
        llm.status = 500
    elif failure == "empty":
        llm.content = '""'
    elif failure == "no_key":
        settings = CharacterLlmSettings(base_url=llm.base_url, api_key_env="MISSING_KEY")
    else:
        settings = CharacterLlmSettings(base_url=None)
    async with httpx.AsyncClient(trust_env=False) as http:
        prompt = await LlmSuggester(settings, http, {}).suggest(_character())
    assert prompt == await FactualSuggester().suggest(_character())
    assert len(llm.requests) == (1 if failure in ("http_500", "empty") else 0)


async def test_the_route_uses_the_configured_llm_suggester(tmp_path: Path, llm: FakeLlm) -> None:
    llm.content = "Mara Quell, pilot, at dusk."
    settings = local_settings(
        tmp_path, characters={"suggester": "llm", "llm": {"base_url": llm.base_url}}
    )
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url, trust_env=False) as http,
    ):
        created = await http.post("/v1/characters", json={"name": "Mara Quell"})
        character_id = created.json()["character"]["id"]
        answer = (await http.get(f"/v1/characters/{character_id}/initial-image-prompt")).json()
    assert answer == {
        "success": True,
        "prompt": f"Mara Quell, pilot, at dusk. Framing: {MASTER_FRAMING}",
    }
