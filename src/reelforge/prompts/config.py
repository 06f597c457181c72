"""The ``prompts`` settings section: where your own copies of the prompt templates live."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PromptSettings"]


class PromptSettings(BaseModel):
    """``[prompts]`` in ``reelforge.toml``; ``REELFORGE_PROMPTS__TEMPLATES_DIR``."""

    model_config = ConfigDict(extra="forbid")

    templates_dir: Path | None = Field(
        default=None,
        description="A folder of your own template files (<name>.toml), used before the "
        "bundled ones; an edited file is picked up on its next use, no restart",
    )
