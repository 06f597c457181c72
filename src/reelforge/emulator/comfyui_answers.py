"""The ComfyUI emulator's answers about a prompt: its queue item, the websocket messages that
end it, and its ``/history`` entry (see :mod:`reelforge.emulator.comfyui`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reelforge.emulator.state import FaultKind, Job, JobPhase

__all__ = [
    "SAVERS",
    "VIDEO_SAVERS",
    "end_messages",
    "history_entry",
    "makes_video",
    "queue_item",
    "shape",
]

VIDEO_SAVERS = frozenset({"SaveVideo", "SaveAnimatedWEBP", "SaveWEBM", "VHS_VideoCombine"})
SAVERS = frozenset({"SaveImage", *VIDEO_SAVERS})


def queue_item(job: Job) -> list[Any]:
    graph = job.arguments["graph"]
    outputs = [n for n, node in graph.items() if node["class_type"] in SAVERS]
    return [
        job.arguments["number"],
        job.request_id,
        graph,
        job.arguments["extra_data"],
        outputs,
    ]


def end_messages(job: Job) -> list[tuple[str, dict[str, Any]]]:
    at = _ms(job.started_at or job.created_at)
    end = _ms(job.finished_at or job.created_at)
    prompt_id = job.request_id
    start = ("execution_start", {"prompt_id": prompt_id, "timestamp": at})
    if job.arguments.get("interrupted"):
        stopped = {"prompt_id": prompt_id, "node_id": "3", "node_type": "KSampler"}
        return [start, ("execution_interrupted", stopped | {"timestamp": end})]
    if job.error is not None or job.output is None:
        safety = job.error is FaultKind.CONTENT_REJECTED
        error: dict[str, Any] = {
            "prompt_id": prompt_id,
            "node_id": "90" if safety else "3",
            "node_type": "SafetyChecker" if safety else "KSampler",
            "exception_type": "ValueError" if safety else "RuntimeError",
            "exception_message": "NSFW content detected by the safety checker"
            if safety
            else "CUDA out of memory. Tried to allocate 2.00 GiB",
            "traceback": [],
            "timestamp": end,
        }
        return [start, ("execution_error", error)]
    node = job.output["node"]
    files = [{"filename": f, "subfolder": "", "type": "output"} for f in job.output["files"]]
    executed = {"node": node, "output": {"images": files}, "prompt_id": prompt_id}
    return [
        start,
        ("executed", executed),
        ("execution_success", {"prompt_id": prompt_id, "timestamp": end}),
    ]


def history_entry(job: Job) -> dict[str, Any] | None:
    if not job.done or job.arguments.get("deleted"):
        return None
    messages = end_messages(job)
    ok = job.output is not None and job.error is None and job.phase is JobPhase.COMPLETED
    outputs: dict[str, Any] = {}
    if ok and job.output is not None:
        files = [{"filename": f, "subfolder": "", "type": "output"} for f in job.output["files"]]
        output: dict[str, Any] = {"images": files}
        if makes_video(job.arguments["graph"]):
            output["animated"] = [True]
        outputs[job.output["node"]] = output
    return {
        "prompt": queue_item(job),
        "outputs": outputs,
        "status": {
            "status_str": "success" if ok else "error",
            "completed": ok,
            "messages": [[event, data] for event, data in messages if event != "executed"],
        },
        "meta": {},
    }


def makes_video(graph: Mapping[str, Any]) -> bool:
    return any(node["class_type"] in VIDEO_SAVERS for node in graph.values())


def shape(graph: Mapping[str, Any]) -> tuple[int, int, int, float]:
    width, height, length, fps = 512, 512, 16, 16.0
    for node in graph.values():
        inputs = node.get("inputs", {})
        if isinstance(inputs.get("width"), int) and isinstance(inputs.get("height"), int):
            width, height = inputs["width"], inputs["height"]
        if isinstance(inputs.get("length"), int):
            length = inputs["length"]
        if isinstance(inputs.get("fps"), int | float):
            fps = float(inputs["fps"])
    return width, height, length, fps or 16.0


def _ms(at: float) -> int:
    return int(at * 1000)
