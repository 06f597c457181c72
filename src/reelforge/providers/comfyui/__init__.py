"""ComfyUI: stills and clips from workflows on the user's own GPU, through ComfyUI's HTTP API
and websocket (self-hosted, no charge).

:mod:`.adapter` is the provider, :mod:`.settings` its section, :mod:`.workflow` binds our
parameters to a workflow's nodes, :mod:`.wire` reads ComfyUI's answers and errors,
:mod:`.progress` follows the websocket.
"""

from __future__ import annotations

from reelforge.providers.comfyui.adapter import ComfyUIProvider
from reelforge.providers.comfyui.settings import ComfyUISettings, ComfyUIWorkflow
from reelforge.providers.comfyui.wire import (
    ComfyUIError,
    ComfyUINodeError,
    ComfyUIPromptLost,
    ComfyUIRejectedNode,
    ComfyUIWorkflowError,
)
from reelforge.providers.comfyui.workflow import WorkflowBindings

__all__ = [
    "ComfyUIError",
    "ComfyUINodeError",
    "ComfyUIPromptLost",
    "ComfyUIProvider",
    "ComfyUIRejectedNode",
    "ComfyUISettings",
    "ComfyUIWorkflow",
    "ComfyUIWorkflowError",
    "WorkflowBindings",
]
