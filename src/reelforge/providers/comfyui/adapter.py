"""The ComfyUI adapter: your own GPU behind ComfyUI's HTTP API, one workflow per capability.

Submit uploads the input and reference images (``POST /upload/image``, multipart ``image``,
``type=input``; named by their bytes' hash, so a resubmission uploads the same name), writes the
request's parameters into a copy of the capability's workflow (:mod:`.workflow`) and sends
``POST /prompt`` with this process's ``client_id`` and a fingerprint of the request in
``extra_data``. Status reads ``GET /history/{prompt_id}``, else ``GET /queue`` (running: the
step counts the ``/ws`` socket reported, :mod:`.progress`; pending: its place), and a prompt in
neither is lost (:class:`~.wire.ComfyUIPromptLost`: the server restarted), unless this adapter
cancelled it. Outputs are downloaded from ``GET /view`` by the adapter itself (the server's
address is configuration, not user input) and handed to ingest as bytes. Cancel deletes a
pending prompt (``POST /queue {"delete": [...]}``) and interrupts a running one (``POST
/interrupt {"prompt_id"}``). A submission cut off by a crash is found again by its fingerprint
in the queue and the history (``finds_submissions``).

Every call is free: ComfyUI runs on the user's GPU. The GPU time a prompt took (from the
history's ``execution_start`` to ``execution_success``) is kept in the metadata.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

import httpx

from reelforge import __version__
from reelforge.errors import InvalidInput, ProviderError
from reelforge.log import get_logger
from reelforge.providers.base import (
    Canceled,
    Capability,
    CostEstimate,
    Failed,
    GenerationRequest,
    InputImage,
    JobHandle,
    JobState,
    OutputMedia,
    PriceQuery,
    Provider,
    ProviderDeps,
    ProviderSettings,
    Queued,
    Running,
    SubmissionLookup,
    Succeeded,
)
from reelforge.providers.comfyui.progress import ProgressFeed
from reelforge.providers.comfyui.settings import ComfyUISettings
from reelforge.providers.comfyui.wire import (
    PROVIDER_ID,
    ComfyUIError,
    ComfyUIPromptLost,
    ComfyUIWorkflowError,
    FileRef,
    comfyui_error,
    loads_json,
    metadata,
    parse_history,
    queue_place,
)
from reelforge.providers.comfyui.workflow import BoundWorkflow, missing_on_server
from reelforge.providers.http import ProviderHttp, invalid_url

__all__ = ["ComfyUIProvider"]

log = get_logger(__name__)

_HTTP = ProviderHttp(
    PROVIDER_ID,
    comfyui_error,
    invalid_url(PROVIDER_ID, "ComfyUI", "check providers.comfyui.base_url"),
)
_KEPT = 1_000
_KEPT_OUTPUTS = 8
_MARK = "reelforge"


class ComfyUIProvider(Provider[ComfyUISettings]):
    """A ComfyUI server on the user's GPU: workflows exported in API format, progress over
    its websocket, no charge."""

    id: ClassVar[str] = PROVIDER_ID
    display_name: ClassVar[str] = "ComfyUI"
    vendor_name: ClassVar[str] = "ComfyUI"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    settings_model: ClassVar[type[ProviderSettings]] = ComfyUISettings
    error_class: ClassVar[type[ProviderError]] = ComfyUIError
    aliases: ClassVar[frozenset[str]] = frozenset({"comfy", "comfy_ui", "comfy-ui"})
    finds_submissions: ClassVar[bool] = True
    #: The ``reference`` workflow's slots decide how many a request really takes (up to 4).
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.TEXT_TO_IMAGE: 4}
    )

    def __init__(self, settings: ComfyUISettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._client_id = uuid.uuid4().hex
        ws_root = "ws" + settings.api_root.removeprefix("http")
        self._feed = ProgressFeed(f"{ws_root}/ws?clientId={self._client_id}", self._headers())
        self._checked: set[str] = set()
        self._canceled: OrderedDict[str, None] = OrderedDict()
        self._outputs: OrderedDict[str, Succeeded] = OrderedDict()

    @classmethod
    def is_configured(cls, section: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
        """Configured once a workflow is set (ComfyUI takes no key)."""
        return bool(section.get("workflows"))

    # -- the contract ------------------------------------------------------------------------

    async def submit(self, request: GenerationRequest) -> JobHandle:
        self.check_request(request)
        workflow = self._workflow(request)
        await self.check_server(workflow)
        uploaded = [await self._upload(image) for image in request.images[:1]]
        references = [await self._upload(image) for image in request.references]
        values: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
            "seed": request.seed,
            "width": request.width,
            "height": request.height,
            "steps": request.steps,
            "guidance": request.guidance_scale,
            "image": uploaded[0] if uploaded else None,
        }
        if request.duration_s is not None and request.capability.makes_video:
            values["frames"] = max(round(request.duration_s * self.settings.fps), 1)
        body = {
            "prompt": workflow.with_values(values, references),
            "client_id": self._client_id,
            "extra_data": {_MARK: {"fingerprint": fingerprint(request), "workflow": workflow.name}},
        }
        self._feed.start()
        answer = await self._json("submit", "POST", "/prompt", json=body)
        prompt_id = answer.get("prompt_id") if isinstance(answer, dict) else None
        if not isinstance(prompt_id, str) or not prompt_id:
            raise ComfyUIError(
                "ComfyUI's answer has no prompt_id.",
                provider=PROVIDER_ID,
                details={"operation": "submit"},
            )
        log.info("comfyui.prompt.submitted", request_id=prompt_id, workflow=workflow.name)
        return JobHandle(provider=PROVIDER_ID, request_id=prompt_id, model=workflow.name)

    async def status(self, handle: JobHandle) -> JobState:
        prompt_id = handle.request_id
        if prompt_id in self._outputs:
            return self._outputs[prompt_id]
        state = await self._from_history(handle)
        if state is not None:
            return state
        place = queue_place(await self._json("status", "GET", "/queue"), prompt_id)
        if place is not None:
            where, index = place
            if where == "pending":
                return Queued(position=index)
            steps = self._feed.steps(prompt_id)
            if steps is None:
                return Running()
            return Running(progress=steps.fraction, logs=(f"step {steps.value} of {steps.max}",))
        if prompt_id in self._canceled:
            return Canceled("The prompt was deleted from ComfyUI's queue.")
        # It may have finished between the two reads.
        state = await self._from_history(handle)
        if state is not None:
            return state
        return Failed(
            ComfyUIPromptLost(
                "ComfyUI no longer knows this prompt (was the server restarted?): it is "
                "neither queued, running nor in its history.",
                provider=PROVIDER_ID,
                details={"operation": "status", "prompt_id": prompt_id, "reason": "prompt_lost"},
            )
        )

    async def cancel(self, handle: JobHandle) -> None:
        prompt_id = handle.request_id
        place = queue_place(await self._json("cancel", "GET", "/queue"), prompt_id)
        if place is None:
            log.info("comfyui.prompt.cancel_noop", request_id=prompt_id)
            return
        self._canceled[prompt_id] = None
        while len(self._canceled) > _KEPT:
            self._canceled.popitem(last=False)
        if place[0] == "pending":
            await self._json("cancel", "POST", "/queue", json={"delete": [prompt_id]})
            # It may have started between the two calls: then only /interrupt stops it.
            place = queue_place(await self._json("cancel", "GET", "/queue"), prompt_id) or place
        if place[0] == "running":
            await self._json("cancel", "POST", "/interrupt", json={"prompt_id": prompt_id})
        log.info("comfyui.prompt.canceled", request_id=prompt_id, was=place[0])

    async def find_submissions(self, lookup: SubmissionLookup) -> list[JobHandle]:
        wanted = fingerprint(lookup.request)
        workflow = self._workflow(lookup.request)
        queue = await self._json("queue", "GET", "/queue")
        history = await self._json("history", "GET", "/history")
        items: list[Any] = []
        if isinstance(queue, dict):
            items += [*(queue.get("queue_running") or ()), *(queue.get("queue_pending") or ())]
        if isinstance(history, dict):
            items += [entry.get("prompt") for entry in history.values() if isinstance(entry, dict)]
        found: dict[str, float] = {}
        for item in items:
            if not isinstance(item, list) or len(item) < 4 or not isinstance(item[3], dict):
                continue
            mark = item[3].get(_MARK)
            if isinstance(mark, dict) and mark.get("fingerprint") == wanted:
                number = item[0] if isinstance(item[0], int | float) else 0
                found[str(item[1])] = float(number)
        return [
            JobHandle(provider=PROVIDER_ID, request_id=prompt_id, model=workflow.name)
            for prompt_id in sorted(found, key=found.__getitem__)
        ]

    def default_model(self, capability: Capability) -> str:
        return capability.value

    def model_for_references(self, model: str | None, capability: Capability) -> str | None:
        return "reference" if capability is Capability.TEXT_TO_IMAGE else model

    def priced(self, query: PriceQuery) -> CostEstimate:
        model = query.model or self.default_model(query.capability)
        if query.reference_count:
            model = self.model_for_references(query.model, query.capability) or model
        return CostEstimate(
            provider=PROVIDER_ID,
            model=model,
            amount_usd=Decimal(0),
            basis="self-hosted ComfyUI: no charge per call (GPU time is kept in the metadata)",
        )

    async def aclose(self) -> None:
        await self._feed.aclose()

    # -- the server --------------------------------------------------------------------------

    async def check_setup(self) -> None:
        """Every configured workflow against the server's ``/object_info`` (at start-up)."""
        for name in self.settings.workflows:
            workflow = self.settings.bound(name)
            if workflow is not None:
                await self.check_server(workflow)

    async def check_server(self, workflow: BoundWorkflow) -> None:
        """Refuse ``workflow`` if the server lacks a node class or a bound input (asked once
        per workflow from ``GET /object_info``)."""
        if workflow.name in self._checked:
            return
        info = await self._json("object_info", "GET", "/object_info")
        problem = missing_on_server(workflow, info if isinstance(info, dict) else {})
        if problem is not None:
            raise ComfyUIWorkflowError(
                f"ComfyUI cannot run the configured {problem}.",
                details={"provider": PROVIDER_ID, "workflow": workflow.name},
            )
        self._checked.add(workflow.name)

    def _workflow(self, request: GenerationRequest) -> BoundWorkflow:
        name = request.model or self.default_model(request.capability)
        if request.references:
            name = self.model_for_references(request.model, request.capability) or name
        workflow = self.settings.bound(name)
        if workflow is None:
            raise ComfyUIWorkflowError(
                f"No ComfyUI workflow is configured for {name!r}: set "
                f"providers.comfyui.workflows.{name}.file to a workflow exported in API format.",
                details={"provider": PROVIDER_ID, "workflow": name},
            )
        if len(request.references) > len(workflow.references):
            raise InvalidInput(
                f"ComfyUI workflow {name!r} has {len(workflow.references)} reference image "
                f"slot(s); the request carries {len(request.references)}.",
                details={"provider": PROVIDER_ID, "field": "references"},
            )
        return workflow

    async def _from_history(self, handle: JobHandle) -> JobState | None:
        prompt_id = handle.request_id
        body = await self._json("status", "GET", f"/history/{prompt_id}")
        entry = parse_history(body, prompt_id, handle.model)
        if entry is None:
            return None
        if entry.failure is not None:
            return entry.failure
        outputs = tuple([await self._download(ref) for ref in entry.files])
        done = Succeeded(
            outputs=outputs,
            metadata=metadata(handle.model, prompt_id, entry.gpu_ms),
            cost_usd=Decimal(0),
        )
        self._outputs[prompt_id] = done
        while len(self._outputs) > _KEPT_OUTPUTS:
            self._outputs.popitem(last=False)
        return done

    async def _download(self, ref: FileRef) -> OutputMedia:
        params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
        response = await self._send("result", "GET", "/view", params=params)
        content_type = response.headers.get("content-type", "").split(";")[0] or None
        return OutputMedia(data=response.content, content_type=content_type)

    async def _upload(self, image: InputImage) -> str:
        if image.data is None:
            raise InvalidInput(
                "ComfyUI takes input images as bytes, not URLs.",
                details={"provider": PROVIDER_ID, "field": "images"},
            )
        digest = hashlib.sha256(image.data).hexdigest()[:24]
        suffix = (image.content_type.split("/")[-1] or "png").replace("jpeg", "jpg")
        name = f"reelforge-{digest}.{suffix}"
        try:
            response = await self.deps.http.post(
                self.settings.api_root + "/upload/image",
                files={"image": (name, image.data, image.content_type)},
                data={"type": "input", "overwrite": "true"},
                headers=self._headers(),
                timeout=self.settings.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise comfyui_error("upload", exc) from None
        if response.is_error:
            raise comfyui_error("upload", response)
        answer = loads_json(response.content, "upload")
        if not isinstance(answer, dict) or not isinstance(answer.get("name"), str):
            raise ComfyUIError(
                "ComfyUI's upload answer names no file.",
                provider=PROVIDER_ID,
                details={"operation": "upload"},
            )
        subfolder = answer.get("subfolder") or ""
        return f"{subfolder}/{answer['name']}" if subfolder else str(answer["name"])

    async def _json(self, operation: str, method: str, path: str, *, json: Any = None) -> Any:
        response = await self._send(operation, method, path, json=json)
        if not response.content:
            return None
        return loads_json(response.content, operation)

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await _HTTP.send(
            self.deps.http,
            operation,
            method,
            self.settings.api_root + path,
            headers=self._headers(),
            timeout_s=self.settings.timeout_s,
            json=json,
            params=params,
        )

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"reelforge/{__version__}"}
        token_env = self.settings.token_env
        token = self.deps.environ.get(token_env, "").strip() if token_env else ""
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers


def fingerprint(request: GenerationRequest) -> str:
    """What tells this request's prompt apart in the server's queue and history."""
    params = request.generation_params()
    params["capability"] = request.capability.value
    images = [hashlib.sha256(i.data or b"").hexdigest() for i in request.images]
    references = [hashlib.sha256(i.data or b"").hexdigest() for i in request.references]
    text = json.dumps([params, images, references], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
