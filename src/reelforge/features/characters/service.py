"""The character image workspace as one service, shared by REST, MCP, the CLI and the pages.

:class:`CharacterService` keeps characters (create, read, patch), suggests the master reference
prompt from their stored facts, generates reference, 360° and scene images through the job
engine (durable, budget-aware, no retries), lists the images newest first with their media, and
deletes an image: its row, its stored object and thumbnail, and for a reference made by a
provider that keeps characters of its own, that provider's copy (one DELETE, no retry; a remote
failure is reported, not raised).

It follows the one feature contract (:mod:`reelforge.engine.features`): :meth:`~.plan` turns a
:class:`~reelforge.features.characters.schemas.CharacterImageRequest` into the run's jobs
(:mod:`.planning`), and :meth:`~.finish`, the run's durable final step, records its images
(:mod:`.recorder`) when the run ends, whether or not anyone is waiting. A request waits up to
``characters.wait_s`` and answers from the stored response; a run that outlives it is answered
``pending`` and its images are listed once it ends.

Every generation accepts ``dry_run``: the plan and its estimate, no provider called.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Mapping
from typing import Any

from reelforge.assets import AssetService
from reelforge.budget.scopes import scopes_for
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord
from reelforge.engine.features import FinishedRun, RunPlan
from reelforge.engine.service import EngineService
from reelforge.engine.specs import WaitPolicy
from reelforge.errors import (
    ConfigurationError,
    InvalidInput,
    NotFound,
    ReelforgeError,
    StorageError,
)
from reelforge.features.characters.config import CharacterSettings
from reelforge.features.characters.planning import (
    FEATURE,
    Generation,
    choose_provider,
    keeps_characters,
    portfolio_generation,
    reference_generation,
    scene_generation,
)
from reelforge.features.characters.prompting import PromptSuggester, reference_prompt
from reelforge.features.characters.recorder import RunRecorder, error_from_job
from reelforge.features.characters.repository import (
    CharacterImageRecord,
    CharacterRecord,
    CharacterRepository,
)
from reelforge.features.characters.schemas import (
    CharacterCreate,
    CharacterImageRequest,
    CharacterUpdate,
    ImageKind,
    character_view,
    image_view,
    parsed,
)
from reelforge.log import get_logger
from reelforge.providers.base import Capability, CharacterKeeper
from reelforge.providers.registry import ProviderRegistry

__all__ = ["CharacterService"]

log = get_logger(__name__)


class CharacterService:
    """Characters and their images; see the module docstring."""

    def __init__(
        self,
        *,
        settings: CharacterSettings,
        catalog: Catalog,
        assets: AssetService,
        providers: ProviderRegistry,
        budget: BudgetService,
        engine: EngineService,
        suggester: PromptSuggester,
    ) -> None:
        self._config = settings
        self._repository = CharacterRepository.on(catalog)
        self._assets = assets
        self._providers = providers
        self._budget = budget
        self._engine = engine
        self._suggester = suggester
        self._recorder = RunRecorder(self._repository, catalog, providers)

    # -- the feature contract ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return FEATURE

    def parse(self, data: Mapping[str, Any]) -> CharacterImageRequest:
        return parsed(CharacterImageRequest, data)

    async def plan(
        self, request: CharacterImageRequest, *, project_id: str | None = None
    ) -> RunPlan:
        """The run ``request`` makes, charged to the character's project unless told."""
        character, generation = await self._planned(request)
        run_input = dict(generation.run_input)
        if request.created_by:
            run_input["created_by"] = request.created_by
        return RunPlan(
            jobs=generation.specs,
            input=run_input,
            wait=WaitPolicy(poll_interval_s=self._config.poll_interval_s),
            priority="interactive",
            project_id=project_id if project_id is not None else character.project_id,
        )

    async def finish(self, run: FinishedRun) -> dict[str, Any]:
        """The run's final step: one metadata row per image, then the stored response (the
        rows' ids and the failed jobs). Idempotent: rows already made are kept as they are."""
        return (await self._recorder.record(run)).response()

    # -- characters --------------------------------------------------------------------------

    async def create(self, body: CharacterCreate) -> dict[str, Any]:
        record = await self._repository.create(
            name=body.name,
            project_id=body.project_id,
            description=body.description,
            visual=body.visual.model_dump(by_alias=True, exclude_none=True),
            library_db_id=body.library_db_id,
        )
        log.info("characters.created", character_id=record.id)
        return character_view(record)

    async def get(self, character_id: str) -> dict[str, Any]:
        return character_view(await self._repository.get(character_id))

    async def character_record(self, character_id: str) -> CharacterRecord:
        return await self._repository.get(character_id)

    async def list(
        self, *, project_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> builtins.list[dict[str, Any]]:
        found = await self._repository.list(project_id=project_id, limit=limit, offset=offset)
        return [character_view(record) for record in found]

    async def update(self, character_id: str, body: CharacterUpdate) -> dict[str, Any]:
        given = body.model_fields_set
        changes: dict[str, Any] = {
            name: getattr(body, name)
            for name in ("name", "project_id", "description", "library_db_id")
            if name in given
        }
        if changes.get("name", "") is None or changes.get("description", "") is None:
            raise InvalidInput("name and description cannot be null.")
        if "visual" in given:
            current = (await self._repository.get(character_id)).visual
            patch = body.visual.model_dump(by_alias=True, exclude_unset=True) if body.visual else {}
            merged = {**current, **patch}
            changes["visual"] = {k: v for k, v in merged.items() if v is not None}
        record = await self._repository.update(character_id, changes)
        log.info("characters.updated", character_id=character_id, fields=sorted(changes))
        return character_view(record)

    # -- prompts -----------------------------------------------------------------------------

    async def suggest_prompt(self, character_id: str) -> str:
        """The master reference suggestion (the configured suggester, falling back to facts)."""
        return await self._suggester.suggest(await self._repository.get(character_id))

    def image_provider(self) -> str:
        """The provider that makes this workspace's images."""
        return choose_provider(self._config, self._providers)

    def _keeps(self, provider_id: str) -> bool:
        return keeps_characters(self._providers, provider_id)

    # -- generation --------------------------------------------------------------------------

    async def generate_reference(
        self,
        character_id: str,
        prompt: str | None = None,
        *,
        dry_run: bool = False,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        """A master reference image; without ``prompt``, the factual suggestion is used."""
        request = self._request(character_id, "reference", prompt=prompt, created_by=created_by)
        return await self.generate(request, dry_run=dry_run)

    async def generate_portfolio(
        self,
        character_id: str,
        reference_image_id: str | None = None,
        *,
        dry_run: bool = False,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        """The 360° set, from the chosen reference image (else the newest reference)."""
        request = self._request(
            character_id,
            "portfolioItem",
            reference_image_id=reference_image_id,
            created_by=created_by,
        )
        return await self.generate(request, dry_run=dry_run)

    async def generate_scene(
        self,
        character_id: str,
        scene_context: str,
        *,
        dry_run: bool = False,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        request = self._request(
            character_id, "scene", scene_context=scene_context, created_by=created_by
        )
        return await self.generate(request, dry_run=dry_run)

    async def generate(
        self, request: CharacterImageRequest, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """What every face answers: the dry run's plan and price; the images once the run has
        ended within ``characters.wait_s``; else ``pending`` with the run id."""
        if dry_run:
            character, generation = await self._planned(request)
            scopes = scopes_for(project_id=character.project_id)
            estimate = await self._budget.estimate_plan(generation.plan(), scopes)
            return {"success": True, **estimate.to_json(), "jobs": generation.planned_jobs()}
        self._require_engine()
        plan = await self.plan(request)
        run_id = await self._engine.start(FEATURE, plan)
        log.info(
            "characters.generation.started",
            character_id=request.character_id,
            kind=request.kind,
            provider=plan.input["provider"],
            jobs=len(plan.jobs),
            run_id=run_id,
        )
        view = await self._engine.wait_for_run(run_id, self._config.wait_s)
        if not view.done:
            return {"success": True, "pending": True, "runId": run_id, "images": [], "failed": []}
        return await self._answer(run_id, view.response)

    def _request(
        self, character_id: str, kind: ImageKind, **fields: str | None
    ) -> CharacterImageRequest:
        given = {name: value for name, value in fields.items() if value is not None}
        return self.parse({"character_id": character_id, "kind": kind, **given})

    async def _answer(self, run_id: str, response: Mapping[str, Any] | None) -> dict[str, Any]:
        """A finished run's answer, from the response its finish step stored."""
        if response is None:
            raise StorageError(
                "The run ended, but its images could not be recorded.",
                details={"run_id": run_id},
            )
        failed: builtins.list[dict[str, Any]] = list(response.get("failed") or [])
        images = await self._repository.images_by_id(list(response.get("images") or []))
        if not images and failed:
            raise error_from_job(failed[0])
        return {
            "success": True,
            "pending": False,
            "runId": run_id,
            "images": [await self._image_view(image) for image in images],
            "failed": [_public_failure(f) for f in failed],
        }

    async def _planned(self, request: CharacterImageRequest) -> tuple[CharacterRecord, Generation]:
        """The character and the jobs that make ``request``'s images; refuses what cannot be
        made before any call."""
        if request.kind == "scene" and not (request.scene_context or "").strip():
            raise InvalidInput("sceneContext must not be empty.", details={"field": "sceneContext"})
        character = await self._repository.get(request.character_id)
        provider = self.image_provider()
        if request.kind == "reference":
            prompt = request.prompt or reference_prompt(character)
            generation = reference_generation(
                character, prompt, provider, self._config, keeper=self._keeps(provider)
            )
            return character, generation
        if request.kind == "portfolioItem":
            reference = await self._reference(character.id, request.reference_image_id)
            takes_images = (
                Capability.IMAGE_TO_IMAGE in self._providers.provider_class(provider).capabilities
            )
            generation = portfolio_generation(
                character,
                reference,
                provider,
                self._config,
                keeper=self._keeps(provider),
                takes_images=takes_images,
            )
            return character, generation
        context = request.scene_context or ""
        generation = scene_generation(
            character, context, provider, self._config, keeper=self._keeps(provider)
        )
        return character, generation

    # -- images ------------------------------------------------------------------------------

    async def list_images(self, character_id: str) -> builtins.list[dict[str, Any]]:
        """The character's images, newest first, each joined with its asset and URLs."""
        found = await self._repository.images_with_assets(character_id)
        return [
            image_view(image, asset, self._assets.view(asset) if asset is not None else None)
            for image, asset in found
        ]

    async def image_records(self, character_id: str) -> builtins.list[CharacterImageRecord]:
        return await self._repository.list_images(character_id)

    async def newest_reference(self, character_id: str) -> AssetRecord | None:
        """The asset of the character's newest successful reference image (None: none yet);
        NotFound for a character that does not exist. What other features read a workspace
        character's look from (the composition root passes this service to them)."""
        await self._repository.get(character_id)
        for image in await self._repository.list_images(character_id, kind="reference"):
            if image.status != "succeeded":
                continue
            with contextlib.suppress(NotFound):
                return await self._assets.get(image.asset_id)
        return None

    async def turnaround(self, character_id: str) -> builtins.list[AssetRecord]:
        """The image assets of the character's newest 360° set (its views from the newest run
        that made any), in the order they were recorded; what other features send beside its
        reference."""
        views = [
            image
            for image in await self._repository.list_images(character_id, kind="portfolioItem")
            if image.status == "succeeded"
        ]
        if not views:
            return []
        newest = [image for image in views if image.run_id == views[0].run_id]
        newest.sort(key=lambda image: (image.created_at, image.id))
        found: builtins.list[AssetRecord] = []
        for image in newest:
            with contextlib.suppress(NotFound):
                asset = await self._assets.get(image.asset_id)
                if asset.kind == "image":
                    found.append(asset)
        return found

    async def lookup(self, id_or_name: str) -> tuple[str, str] | None:
        """``(id, name)`` of the workspace character with this id, else the newest one with
        this name (any case); None when there is neither."""
        with contextlib.suppress(NotFound):
            record = await self._repository.get(id_or_name)
            return record.id, record.name
        found = await self._repository.find_named(id_or_name)
        return None if found is None else (found.id, found.name)

    async def delete_image(self, character_id: str, image_id: str) -> dict[str, Any]:
        """Remove the row, the stored object and its thumbnail; for a reference made by a
        provider that keeps characters also ask it, once, to delete its copy."""
        image = await self._repository.get_image(character_id, image_id)
        await self._repository.delete_image(image_id)
        # The asset may have gone first (deleting an asset deletes its row too).
        with contextlib.suppress(NotFound):
            await self._assets.delete(image.asset_id)
        log.info("characters.image.deleted", character_id=character_id, image_id=image_id)
        remote = await self._delete_remote(character_id, image)
        return {"success": True, "id": image_id, "remote": remote}

    async def _delete_remote(
        self, character_id: str, image: CharacterImageRecord
    ) -> dict[str, Any]:
        if not self._keeps(image.provider) or image.kind != "reference":
            return {"attempted": False, "deleted": False, "reason": "not a library reference"}
        library_db_id = image.metrics.get("libraryDbId")
        if not isinstance(library_db_id, str) or not library_db_id:
            library_db_id = (await self._repository.get(character_id)).library_db_id
        if not library_db_id:
            return {"attempted": False, "deleted": False, "reason": "library id unknown"}
        try:
            provider = self._providers.get(image.provider)
            if not isinstance(provider, CharacterKeeper):
                raise ConfigurationError(f"Provider {image.provider!r} cannot delete references.")
            deleted = await provider.delete_reference_image(library_db_id)
        except ReelforgeError as exc:
            log.warning("characters.image.remote_delete_failed", code=exc.code)
            return {"attempted": False, "deleted": False, "reason": exc.message}
        return {
            "attempted": True,
            "deleted": deleted,
            "provider": image.provider,
            "libraryDbId": library_db_id,
            "reason": None if deleted else f"{provider.vendor_name} did not delete it",
        }

    # -- plumbing ----------------------------------------------------------------------------

    def _require_engine(self) -> None:
        if not self._engine.started:
            raise ConfigurationError(
                "Generating images needs the job engine, which is not running in this process."
            )

    async def _reference(
        self, character_id: str, reference_image_id: str | None
    ) -> CharacterImageRecord | None:
        if reference_image_id:
            image = await self._repository.get_image(character_id, reference_image_id)
            if image.kind != "reference":
                raise InvalidInput(
                    "referenceImageId must name a reference image.",
                    details={"field": "referenceImageId"},
                )
            return image
        references = await self._repository.list_images(character_id, kind="reference", limit=1)
        return references[0] if references else None

    async def _image_view(self, image: CharacterImageRecord) -> dict[str, Any]:
        try:
            asset = await self._assets.get(image.asset_id)
        except NotFound:
            return image_view(image, None, None)
        return image_view(image, asset, self._assets.view(asset))


def _public_failure(failure: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "label": failure.get("label"),
        "jobId": failure.get("job_id"),
        "code": failure.get("code"),
        "message": failure.get("message"),
    }
