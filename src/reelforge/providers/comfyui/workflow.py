"""ComfyUI workflows: loading an API-format export, binding our parameters to its node inputs,
and checking it against a server's ``/object_info``.

A workflow exported with ComfyUI's "Save (API Format)" is a JSON object from node id to
``{"class_type", "inputs", "_meta": {"title"}}``; an input that takes another node's output holds
``[node_id, output_index]``. (The editor's own save format, with ``nodes`` and ``links`` arrays,
is refused with a message saying how to export the API format.)

A binding names one node input as ``<node>.<input>``, where ``<node>`` is a node's title, its id
or its class (whichever matches exactly one node). Unbound parameters get defaults that fit the
core nodes: the prompt is the ``text`` of the ``CLIPTextEncode`` wired to the sampler's
``positive`` input (the negative prompt: to ``negative``), seed, steps and guidance are the
sampler's ``seed`` (``noise_seed``), ``steps`` and ``cfg``, width and height those of the one
node with both (``EmptyLatentImage`` and its kin), the frame count the one node's ``length``,
the input image the ``LoadImage`` whose title does not start with "reference", and the
reference images the ``LoadImage`` nodes whose titles do, in title order. Outputs are read from
the save nodes (:data:`SAVE_NODES`, or the ``outputs`` binding). A binding that names no node,
or a workflow without a node for the prompt, is refused when the settings are read.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SAMPLER_NODES",
    "SAVE_NODES",
    "Binding",
    "BoundWorkflow",
    "WorkflowBindings",
    "WorkflowProblem",
    "bind_workflow",
    "load_graph",
    "missing_on_server",
]

#: The core sampler nodes the defaults follow.
SAMPLER_NODES = ("KSampler", "KSamplerAdvanced")
#: Nodes whose outputs are the workflow's results (stills and videos, core and common custom).
SAVE_NODES = (
    "SaveImage",
    "SaveAnimatedWEBP",
    "SaveAnimatedPNG",
    "SaveWEBM",
    "SaveVideo",
    "VHS_VideoCombine",
)
_REFERENCE_TITLE = "reference"


class WorkflowProblem(ValueError):
    """A workflow that cannot be used as bound; the message names the node or binding."""


class WorkflowBindings(BaseModel):
    """Which node input takes each parameter: ``<node title, id or class>.<input>``."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = None
    negative_prompt: str | None = None
    seed: str | None = None
    width: str | None = None
    height: str | None = None
    steps: str | None = None
    guidance: str | None = None
    frames: str | None = None
    image: str | None = None
    references: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(
        default_factory=list, description="Nodes whose outputs are the results (title/id/class)"
    )


@dataclass(frozen=True, slots=True)
class Binding:
    """One node input: the node's id and the input's name."""

    node_id: str
    input: str


@dataclass(frozen=True, slots=True)
class BoundWorkflow:
    """A workflow with every parameter found: where to write each, and which nodes save."""

    name: str
    graph: Mapping[str, Any]
    slots: Mapping[str, Binding]
    references: tuple[Binding, ...]
    outputs: tuple[str, ...]

    def makes_video(self) -> bool:
        return any(self.graph[node]["class_type"] not in ("SaveImage",) for node in self.outputs)

    def title(self, node_id: str) -> str:
        node = self.graph.get(node_id, {})
        meta = node.get("_meta") if isinstance(node, dict) else None
        title = meta.get("title") if isinstance(meta, dict) else None
        return str(title or (node.get("class_type") if isinstance(node, dict) else "") or node_id)

    def with_values(self, values: Mapping[str, Any], references: list[str]) -> dict[str, Any]:
        """A copy of the graph with ``values`` written into their slots (None: left as is)
        and the uploaded reference names into the reference slots, in order; slots left over
        take the last reference again (a workflow's own placeholder file may not exist)."""
        graph = copy.deepcopy(dict(self.graph))
        for slot, value in values.items():
            binding = self.slots.get(slot)
            if binding is not None and value is not None:
                graph[binding.node_id]["inputs"][binding.input] = value
        filled = references + references[-1:] * (len(self.references) - len(references))
        for binding, name in zip(self.references, filled, strict=False):
            graph[binding.node_id]["inputs"][binding.input] = name
        return graph


def load_graph(path: Path) -> dict[str, Any]:
    """The API-format graph in ``path``; a :class:`WorkflowProblem` naming what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorkflowProblem(f"cannot read workflow file {str(path)!r}: {exc.strerror}") from None
    except ValueError:
        raise WorkflowProblem(f"workflow file {str(path)!r} is not JSON") from None
    if isinstance(data, dict) and "nodes" in data and "links" in data:
        raise WorkflowProblem(
            f"{str(path)!r} is in the editor's format: export it with 'Save (API Format)'"
        )
    if not isinstance(data, dict) or not data:
        raise WorkflowProblem(f"workflow file {str(path)!r} holds no nodes")
    for node_id, node in data.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise WorkflowProblem(f"node {node_id!r} of {str(path)!r} has no class_type")
        if not isinstance(node.get("inputs", {}), dict):
            raise WorkflowProblem(f"node {node_id!r} of {str(path)!r} has no inputs object")
        node.setdefault("inputs", {})
    return data


def bind_workflow(name: str, graph: dict[str, Any], bindings: WorkflowBindings) -> BoundWorkflow:
    """Find every parameter's node input in ``graph`` (see the module docstring)."""
    finder = _Finder(name, graph)
    slots: dict[str, Binding] = {}
    for slot in ("prompt", "negative_prompt", "seed", "width", "height", "steps", "guidance"):
        explicit = getattr(bindings, slot)
        found = finder.named(slot, explicit) if explicit else finder.default(slot)
        if found is not None:
            slots[slot] = found
    for slot in ("frames", "image"):
        explicit = getattr(bindings, slot)
        found = finder.named(slot, explicit) if explicit else finder.default(slot)
        if found is not None:
            slots[slot] = found
    if "prompt" not in slots:
        raise WorkflowProblem(
            f"workflow {name!r} has no node for the prompt: bind 'prompt' to "
            "'<node title>.<input>' (no CLIPTextEncode is wired to a KSampler's positive input)"
        )
    if bindings.references:
        references = tuple(finder.named("references", ref) for ref in bindings.references)
    else:
        references = finder.reference_loaders()
    if bindings.outputs:
        outputs = tuple(finder.node("outputs", ref) for ref in bindings.outputs)
    else:
        outputs = tuple(n for n, node in graph.items() if node["class_type"] in SAVE_NODES)
    if not outputs:
        raise WorkflowProblem(
            f"workflow {name!r} has no save node ({', '.join(SAVE_NODES)}): "
            "bind 'outputs' to the nodes whose outputs are the results"
        )
    return BoundWorkflow(name, graph, slots, references, outputs)


def missing_on_server(workflow: BoundWorkflow, object_info: Mapping[str, Any]) -> str | None:
    """What ``object_info`` (a server's node classes) lacks for ``workflow``, in words naming
    the node; None when the server has every node class and every bound input."""
    for node_id, node in workflow.graph.items():
        if node["class_type"] not in object_info:
            return (
                f"workflow {workflow.name!r}: node {node_id} ({workflow.title(node_id)!r}) "
                f"needs class {node['class_type']!r}, which the server does not have"
            )
    bound = [*workflow.slots.values(), *workflow.references]
    for binding in bound:
        class_type = workflow.graph[binding.node_id]["class_type"]
        info = object_info.get(class_type)
        declared = info.get("input", {}) if isinstance(info, dict) else {}
        names: set[str] = set()
        for group in ("required", "optional"):
            section = declared.get(group) if isinstance(declared, dict) else None
            names |= set(section) if isinstance(section, dict) else set()
        if binding.input not in names:
            return (
                f"workflow {workflow.name!r}: node {binding.node_id} "
                f"({workflow.title(binding.node_id)!r}, {class_type}) has no input "
                f"{binding.input!r} on the server"
            )
    return None


class _Finder:
    """Finds nodes of one graph by title, id or class, and the core nodes' default inputs."""

    def __init__(self, name: str, graph: dict[str, Any]) -> None:
        self.name = name
        self.graph = graph

    def node(self, slot: str, selector: str) -> str:
        if selector in self.graph:
            return selector
        by_title = [n for n in self.graph if _title(self.graph[n]) == selector]
        found = by_title or [n for n, v in self.graph.items() if v["class_type"] == selector]
        if not found:
            raise WorkflowProblem(
                f"workflow {self.name!r} has no node {selector!r} (binding {slot!r}; "
                "name a node by its title, id or class)"
            )
        if len(found) > 1:
            raise WorkflowProblem(
                f"workflow {self.name!r}: {selector!r} (binding {slot!r}) matches nodes "
                f"{', '.join(sorted(found))}: name one by its title or id"
            )
        return found[0]

    def named(self, slot: str, reference: str) -> Binding:
        selector, dot, input_name = reference.rpartition(".")
        if not dot or not selector or not input_name:
            raise WorkflowProblem(
                f"binding {slot!r} = {reference!r} is not '<node title, id or class>.<input>'"
            )
        return Binding(self.node(slot, selector), input_name)

    def default(self, slot: str) -> Binding | None:
        sampler = self._unique(lambda node: node["class_type"] in SAMPLER_NODES)
        if slot in ("prompt", "negative_prompt"):
            if sampler is None:
                if slot == "negative_prompt":
                    return None
                text = self._unique(lambda node: node["class_type"] == "CLIPTextEncode")
                return Binding(text, "text") if text else None
            wire = "positive" if slot == "prompt" else "negative"
            source = self.graph[sampler]["inputs"].get(wire)
            if isinstance(source, list) and source and str(source[0]) in self.graph:
                node_id = str(source[0])
                if "text" in self.graph[node_id]["inputs"]:
                    return Binding(node_id, "text")
            return None
        if slot in ("seed", "steps", "guidance"):
            if sampler is None:
                return None
            inputs = self.graph[sampler]["inputs"]
            wanted = {"seed": ("seed", "noise_seed"), "steps": ("steps",), "guidance": ("cfg",)}
            name = next((n for n in wanted[slot] if n in inputs), None)
            return Binding(sampler, name) if name else None
        if slot in ("width", "height"):
            latent = self._unique(lambda node: {"width", "height"} <= set(node["inputs"]))
            return Binding(latent, slot) if latent else None
        if slot == "frames":
            video = self._unique(lambda node: "length" in node["inputs"])
            return Binding(video, "length") if video else None
        loaders = [
            n
            for n, node in self.graph.items()
            if node["class_type"] == "LoadImage"
            and not _title(node).lower().startswith(_REFERENCE_TITLE)
        ]
        return Binding(loaders[0], "image") if len(loaders) == 1 else None

    def reference_loaders(self) -> tuple[Binding, ...]:
        found = [
            (_title(node), n)
            for n, node in self.graph.items()
            if node["class_type"] == "LoadImage"
            and _title(node).lower().startswith(_REFERENCE_TITLE)
        ]
        return tuple(Binding(n, "image") for _, n in sorted(found))

    def _unique(self, test: Any) -> str | None:
        found = [n for n, node in self.graph.items() if test(node)]
        return found[0] if len(found) == 1 else None


def _title(node: Mapping[str, Any]) -> str:
    meta = node.get("_meta")
    title = meta.get("title") if isinstance(meta, dict) else None
    return str(title) if title else ""
