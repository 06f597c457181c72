"""``providers.comfyui``: where the server is, and one API-format workflow per capability.

Each workflow file is read and bound when the settings are read (at start-up), so a file that
is missing, in the editor's format, or whose bindings name no node stops the process there,
naming the setting. Whether the server has every node class is checked against its
``/object_info`` before the first prompt is sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from reelforge.providers.base import ProviderSettings
from reelforge.providers.comfyui.workflow import (
    BoundWorkflow,
    WorkflowBindings,
    bind_workflow,
    load_graph,
)

__all__ = ["DEFAULT_BASE_URL", "ComfyUISettings", "ComfyUIWorkflow", "WorkflowName"]

DEFAULT_BASE_URL = "http://127.0.0.1:8188"
#: A workflow per capability, and ``reference``: text-to-image with reference images.
WorkflowName = Literal[
    "text_to_image", "image_to_image", "image_to_video", "text_to_video", "reference"
]


class ComfyUIWorkflow(BaseModel):
    """One exported workflow and how our parameters bind to its nodes."""

    model_config = ConfigDict(extra="forbid")

    file: Path
    bindings: WorkflowBindings = Field(default_factory=WorkflowBindings)


class ComfyUISettings(ProviderSettings):
    """The server's address (loopback by default), an optional token's variable (for a proxy
    in front of ComfyUI), the workflows, and the frame rate that turns seconds into frames."""

    token_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Variable holding a bearer token for a proxy in front of ComfyUI",
    )
    workflows: dict[WorkflowName, ComfyUIWorkflow] = Field(default_factory=dict)
    fps: int = Field(default=16, gt=0, le=120, description="Frames per second of video workflows")
    _bound: dict[str, BoundWorkflow] = PrivateAttr(default_factory=dict)

    @field_validator("workflows", mode="before")
    @classmethod
    def _from_json(cls, value: object) -> object:
        # REELFORGE_PROVIDERS__COMFYUI__WORKFLOWS arrives as one JSON string.
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _bind(self) -> ComfyUISettings:
        for name, workflow in self.workflows.items():
            self._bound[name] = bind_workflow(name, load_graph(workflow.file), workflow.bindings)
        return self

    @property
    def api_root(self) -> str:
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/")

    def bound(self, name: str) -> BoundWorkflow | None:
        return self._bound.get(name)
