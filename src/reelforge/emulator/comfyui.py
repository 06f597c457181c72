"""ComfyUI's wire format on loopback: prompts queued, run with progress, saved and viewed.

Mounted at ``/comfyui``, which stands for a ComfyUI server (``http://127.0.0.1:8188``). Shapes
follow ComfyUI's ``server.py``: ``POST /prompt`` (``{"prompt": graph, "client_id",
"extra_data"}``) answers ``{"prompt_id", "number", "node_errors": {}}``, or 400 with ``error``
and ``node_errors`` (a node class it does not know, a graph without a save node);
``GET /history/{id}`` answers ``{}`` until the prompt ends, then its ``outputs`` and ``status``
(``status_str``, ``completed``, ``messages`` with millisecond ``timestamp``s); ``GET /history``
every entry (with ``prompt``: ``[number, id, graph, extra_data, outputs]``); ``GET /queue``
``queue_running`` / ``queue_pending``; ``POST /queue {"delete": [...]}`` drops pending prompts;
``POST /interrupt`` (optionally ``{"prompt_id"}``) stops the running one; ``POST /upload/image``
(multipart ``image``) answers ``{"name", "subfolder", "type"}``; ``GET /view?filename=...``
serves an output's bytes; ``GET /object_info`` the node classes (:data:`NODE_INPUTS`);
``/ws?clientId=...`` sends the submitting client ``status``, ``execution_start``,
``executing``, ``progress`` (``value`` of ``max`` steps: the sampler's ``steps``), ``executed``,
``execution_success`` / ``execution_error`` / ``execution_interrupted``.

ComfyUI takes no credentials. A restart is ``POST /_emulator/reset``: every prompt is forgotten.
Faults: ``invalid_input`` at ``submit`` answers ComfyUI's ``node_errors`` for the checkpoint
loader; a job's ``content_rejected`` is an ``execution_error`` of a safety checker node, any
other job fault an ``execution_error`` of the sampler. Nothing is billed in money: a prompt is
recorded at $0 per run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from reelforge.emulator.base import Billing, EmulatedProvider, EmulatorContext, FaultAnswer
from reelforge.emulator.base import json_body as read_json
from reelforge.emulator.comfyui_answers import (
    SAVERS,
    end_messages,
    history_entry,
    makes_video,
    queue_item,
    shape,
)
from reelforge.emulator.state import FaultKind, Job, JobPhase

__all__ = ["NODE_INPUTS", "ComfyUIEmulator"]

_LOADER = ("ckpt_name",)
_SAMPLER = ("model", "seed", "steps", "cfg", "sampler_name", "scheduler", "positive", "negative")
#: The node classes this server "has", with their inputs (all required here).
NODE_INPUTS: Mapping[str, tuple[str, ...]] = {
    "CheckpointLoaderSimple": _LOADER,
    "CLIPTextEncode": ("text", "clip"),
    "KSampler": (*_SAMPLER, "latent_image", "denoise"),
    "KSamplerAdvanced": ("model", "noise_seed", "steps", "cfg", "positive", "negative"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptyHunyuanLatentVideo": ("width", "height", "length", "batch_size"),
    "WanImageToVideo": ("positive", "negative", "vae", "width", "height", "length", "start_image"),
    "VAEDecode": ("samples", "vae"),
    "VAEEncode": ("pixels", "vae"),
    "LoadImage": ("image",),
    "ImageBatch": ("image1", "image2"),
    "SaveImage": ("images", "filename_prefix"),
    "CreateVideo": ("images", "fps"),
    "SaveVideo": ("video", "filename_prefix", "format", "codec"),
    "SaveAnimatedWEBP": ("images", "filename_prefix", "fps"),
}
_KEPT_UPLOADS = 1_000


def _node_errors(node_id: str, class_type: str, kind: str, message: str) -> Response:
    body = {
        "error": {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation",
            "details": "",
            "extra_info": {},
        },
        "node_errors": {
            node_id: {
                "errors": [{"type": kind, "message": message, "details": message}],
                "dependent_outputs": [],
                "class_type": class_type,
            }
        },
    }
    return JSONResponse(body, status_code=400)


_FAULT_ANSWERS: dict[FaultKind, FaultAnswer] = {
    FaultKind.INVALID_INPUT: lambda _: _node_errors(
        "4",
        "CheckpointLoaderSimple",
        "value_not_in_list",
        "ckpt_name: 'missing.safetensors' not in ['sd_xl_base_1.0.safetensors']",
    ),
}


class ComfyUIEmulator(EmulatedProvider):
    """A ComfyUI server: one queue, prompts run in order of arrival, progress on ``/ws``."""

    id: ClassVar[str] = "comfyui"
    fault_answers: ClassVar[Mapping[FaultKind, FaultAnswer]] = _FAULT_ANSWERS

    def __init__(self, context: EmulatorContext) -> None:
        super().__init__(context)
        self._sockets: dict[str, WebSocket] = {}
        self._uploads: dict[str, bytes] = {}
        self._number = 0
        self._reporters: set[asyncio.Task[None]] = set()

    @classmethod
    def environment(cls, base_url: str) -> dict[str, str]:
        return {"REELFORGE_PROVIDERS__COMFYUI__BASE_URL": f"{base_url}/comfyui"}

    def routes(self) -> Sequence[BaseRoute]:
        return [
            self.endpoint("/prompt", "submit", self._prompt, methods=["POST"]),
            self.endpoint("/history/{request_id}", "status", self._history_one, methods=["GET"]),
            self.endpoint("/history", "history", self._history_all, methods=["GET"]),
            self.endpoint("/queue", "queue", self._queue, methods=["GET"]),
            self.endpoint("/queue", "cancel", self._delete, methods=["POST"]),
            self.endpoint("/interrupt", "interrupt", self._interrupt, methods=["POST"]),
            self.endpoint("/upload/image", "upload", self._upload, methods=["POST"]),
            self.endpoint("/view", "view", self._view, methods=["GET"]),
            self.endpoint("/object_info", "object_info", self._object_info, methods=["GET"]),
            WebSocketRoute("/ws", self._socket),
        ]

    def references(self, model: str, arguments: Any) -> list[dict[str, Any]]:
        graph = arguments.get("graph") if isinstance(arguments, dict) else None
        found = []
        for node in (graph or {}).values():
            title = str((node.get("_meta") or {}).get("title") or "")
            if node.get("class_type") == "LoadImage" and title.lower().startswith("reference"):
                found.append((title, str(node["inputs"].get("image"))))
        described: list[dict[str, Any]] = []
        for _, name in sorted(found):
            data = self._uploads.get(name.rpartition("/")[2])
            if data is None:
                described.append({"unreadable": name})
            else:
                digest = hashlib.sha256(data).hexdigest()
                described.append(
                    {"sha256": digest, "content_type": "image/png", "bytes": len(data)}
                )
        return described

    # -- endpoints ---------------------------------------------------------------------------

    async def _prompt(self, request: Request) -> Response:
        body = await read_json(request)
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(graph, dict) or not graph:
            return JSONResponse(
                {
                    "error": {"type": "invalid_prompt", "message": "Invalid prompt"},
                    "node_errors": {},
                },
                status_code=400,
            )
        for node_id, node in graph.items():
            class_type = node.get("class_type") if isinstance(node, dict) else None
            if class_type not in NODE_INPUTS:
                return _node_errors(
                    str(node_id), str(class_type), "invalid_prompt", f"Cannot execute {class_type}"
                )
        if not any(node["class_type"] in SAVERS for node in graph.values()):
            body_error = {"type": "prompt_no_outputs", "message": "Prompt has no outputs"}
            return JSONResponse({"error": body_error, "node_errors": {}}, status_code=400)
        self._number += 1
        found = body.get("extra_data") if isinstance(body, dict) else None
        extra: dict[str, Any] = found if isinstance(found, dict) else {}
        # ComfyUI knows no model names: the ledger names a job by the workflow Reelforge says
        # it sent (extra_data is the client's own), else by what it makes.
        marked = extra.get("reelforge")
        mark: dict[str, Any] = marked if isinstance(marked, dict) else {}
        model = str(mark.get("workflow") or ("video" if makes_video(graph) else "image"))
        arguments = {
            "graph": graph,
            "client_id": str(body.get("client_id") or ""),
            "extra_data": extra,
            "number": self._number,
        }
        job = self.new_job(request, model, arguments)
        self.start_job(job)
        reporter = asyncio.create_task(self._report(job), name=f"comfyui-ws-{job.request_id}")
        self._reporters.add(reporter)
        reporter.add_done_callback(self._reporters.discard)
        return JSONResponse(
            {"prompt_id": job.request_id, "number": self._number, "node_errors": {}}
        )

    async def _history_one(self, request: Request) -> Response:
        job = self._job(request.path_params["request_id"])
        entry = history_entry(job) if job is not None else None
        if job is None or entry is None:
            return JSONResponse({})
        return JSONResponse({job.request_id: entry})

    async def _history_all(self, _request: Request) -> Response:
        entries = {}
        for job in self._jobs():
            entry = history_entry(job)
            if entry is not None:
                entries[job.request_id] = entry
        return JSONResponse(entries)

    async def _queue(self, _request: Request) -> Response:
        running = [queue_item(j) for j in self._jobs() if j.phase is JobPhase.RUNNING]
        pending = [queue_item(j) for j in self._jobs() if j.phase is JobPhase.QUEUED]
        return JSONResponse({"queue_running": running, "queue_pending": pending})

    async def _delete(self, request: Request) -> Response:
        body = await read_json(request)
        ids = body.get("delete") if isinstance(body, dict) else None
        for prompt_id in ids or ():
            job = self._job(str(prompt_id))
            if job is not None and job.phase is JobPhase.QUEUED:
                job.arguments["deleted"] = True
                self.cancel_job(job)
        if isinstance(body, dict) and body.get("clear"):
            for job in self._jobs():
                if job.phase is JobPhase.QUEUED:
                    job.arguments["deleted"] = True
                    self.cancel_job(job)
        return Response(status_code=200)

    async def _interrupt(self, request: Request) -> Response:
        body = await read_json(request)
        wanted = body.get("prompt_id") if isinstance(body, dict) else None
        for job in self._jobs():
            if job.phase is JobPhase.RUNNING and wanted in (None, job.request_id):
                job.arguments["interrupted"] = True
                self.cancel_job(job)
        return Response(status_code=200)

    async def _upload(self, request: Request) -> Response:
        async with request.form() as form:
            image = form.get("image")
            if image is None or isinstance(image, str):
                return Response(status_code=400)
            data = await image.read()
            name = str(image.filename or "upload.png").rpartition("/")[2]
        self._uploads[name] = data
        while len(self._uploads) > _KEPT_UPLOADS:
            del self._uploads[next(iter(self._uploads))]
        return JSONResponse({"name": name, "subfolder": "", "type": "input"})

    async def _view(self, request: Request) -> Response:
        found = self.media.get(request.query_params.get("filename", ""))
        if found is None:
            return Response(status_code=404)
        return Response(found.data, media_type=found.content_type)

    async def _object_info(self, _request: Request) -> Response:
        info = {
            name: {
                "input": {"required": {i: [["any"], {}] for i in inputs}, "optional": {}},
                "output": [],
                "name": name,
                "display_name": name,
                "category": "emulated",
                "output_node": name in SAVERS,
            }
            for name, inputs in NODE_INPUTS.items()
        }
        return JSONResponse(info)

    async def _socket(self, socket: WebSocket) -> None:
        client_id = socket.query_params.get("clientId") or ""
        await socket.accept()
        self._sockets[client_id] = socket
        queued = sum(1 for j in self._jobs() if not j.done)
        with contextlib.suppress(Exception):
            await socket.send_json(
                {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": queued}}}}
            )
        try:
            while True:
                await socket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            if self._sockets.get(client_id) is socket:
                del self._sockets[client_id]

    # -- jobs --------------------------------------------------------------------------------

    async def produce(self, job: Job) -> dict[str, Any]:
        graph = job.arguments["graph"]
        width, height, length, fps = shape(graph)
        if makes_video(graph):
            media = await self.media.video(width, height, max(length / fps, 0.5))
        else:
            media = await self.media.image(width, height, "png")
        saver = next(n for n, node in graph.items() if node["class_type"] in SAVERS)
        return {"files": [media.name], "node": saver}

    def bill(self, job: Job) -> Billing:
        return Billing(1, "prompt", Decimal(0))

    async def _report(self, job: Job) -> None:
        """The websocket messages of ``job``'s run, to the client that submitted it."""
        client = job.arguments["client_id"]
        graph = job.arguments["graph"]
        sampler = next((n for n, v in graph.items() if "steps" in v["inputs"]), None)
        steps = graph[sampler]["inputs"]["steps"] if sampler else 1
        steps = steps if isinstance(steps, int) and steps > 0 else 20
        prompt_id = job.request_id
        config = self.state.config
        await asyncio.sleep(min(config.queue_s, config.latency_s))
        for _ in range(1_000):  # the job's own task moves it to running at about this time
            if job.phase is not JobPhase.QUEUED:
                break
            await asyncio.sleep(0.01)
        if job.done:
            return await self._ended(job)
        await self._send(client, "execution_start", {"prompt_id": prompt_id})
        await self._send(client, "executing", {"node": sampler, "prompt_id": prompt_id})
        running_s = max(config.latency_s - min(config.queue_s, config.latency_s), 0.0)
        for value in range(1, steps + 1):
            if job.done:
                break
            data = {"value": value, "max": steps, "prompt_id": prompt_id, "node": sampler}
            await self._send(client, "progress", data)
            await asyncio.sleep(running_s / (steps + 1))
        await self._ended(job)

    async def _ended(self, job: Job) -> None:
        if job.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(job.task)
        client = job.arguments["client_id"]
        prompt_id = job.request_id
        for event, data in end_messages(job):
            await self._send(client, event, data)
        await self._send(client, "executing", {"node": None, "prompt_id": prompt_id})

    async def _send(self, client: str, event: str, data: dict[str, Any]) -> None:
        socket = self._sockets.get(client)
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.send_json({"type": event, "data": data})

    # -- answers -----------------------------------------------------------------------------

    def _jobs(self) -> list[Job]:
        return [job for job in self.state.jobs.values() if job.provider == self.id]

    def _job(self, prompt_id: str) -> Job | None:
        job = self.state.jobs.get(prompt_id)
        return job if job is not None and job.provider == self.id else None
