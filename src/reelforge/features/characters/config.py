"""The ``characters`` settings section: which provider makes images, how prompts are suggested,
image sizes and the views of a 360° set.

Only pydantic here: :mod:`reelforge.settings` imports the section from this module.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_ANGLES", "CharacterLlmSettings", "CharacterSettings"]

DEFAULT_ANGLES = (
    "front",
    "front-right",
    "right",
    "back-right",
    "back",
    "back-left",
    "left",
    "front-left",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CharacterLlmSettings(_Section):
    """An OpenAI-compatible chat endpoint for suggestions: ``{base_url}/chat/completions``."""

    base_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:11434/v1")
    model: str = "gpt-4o-mini"
    api_key_env: str | None = Field(
        default=None, description="The variable holding the endpoint's key; none: no key sent"
    )
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    temperature: float = Field(default=0.7, ge=0, le=2)


class CharacterSettings(_Section):
    """``characters``: which provider makes images, how prompts are suggested, image sizes."""

    provider: str | None = Field(
        default=None,
        description="None: a configured provider that keeps characters, else default_provider",
    )
    suggester: Literal["deterministic", "llm"] = "deterministic"
    llm: CharacterLlmSettings = CharacterLlmSettings()
    wait_s: float = Field(
        default=600.0, ge=0, le=3600, description="How long a request waits for its images"
    )
    poll_interval_s: float = Field(default=0.25, ge=0.05, le=60)
    portrait_width: int = Field(default=720, ge=64, le=4096)
    portrait_height: int = Field(default=720, ge=64, le=4096)
    scene_width: int = Field(default=1280, ge=64, le=4096)
    scene_height: int = Field(default=720, ge=64, le=4096)
    angles: tuple[str, ...] = Field(
        default=DEFAULT_ANGLES, min_length=1, max_length=24, description="Views of a 360° set"
    )
