"""The character image workspace as one service, shared by REST, MCP, the CLI and the pages.

:class:`CharacterService` keeps characters (create, read, patch), suggests the master reference
prompt from their stored facts, generates reference, 360° and scene images through the job
engine (durable, budget-aware, no retries), lists the images newest first with their media, and
deletes an image: its row, its stored object and thumbnail, and for a reference made by a
provider that keeps characters, that provider's copy (one DELETE, no retry; a remote failure is
reported, not raised).

Every generation accepts ``dry_run``: the plan and its estimate, no provider called. A request
waits up to ``characters.wait_s`` for its images; a run that outlives it is recorded by the next
listing of the character's images.
"""

from __future__ import annotations

import builtins
import contextlib
from typing import Any

from reelforge.assets import AssetService
from reelforge.budget.scopes import scopes_for
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import TERMINAL_RUN_STATUSES
from reelforge.engine.service import EngineService
from reelforge.engine.specs import WaitPolicy
from reelforge.errors import ConfigurationError, InvalidInput, NotFound, ReelforgeError
from reelforge.features.characters.prompts import (
    FactualSuggester,
    LlmSuggester,
    PromptSuggester,
    reference_prompt,
)
from reelforge.features.characters.recorder import RunRecorder, error_from_job
from reelforge.features.characters.repository import (
    CharacterImageRecord,
    CharacterRecord,
    CharacterRepository,
)
from reelforge.features.characters.schemas import (
    CharacterCreate,
    CharacterUpdate,
    character_view,
    image_view,
)
from reelforge.features.characters.workflows import (
    FEATURE,
    Generation,
    choose_provider,
    keeps_characters,
    portfolio_generation,
    reference_generation,
    scene_generation,
)
from reelforge.log import get_logger
from reelforge.media.store import MediaStore
from reelforge.providers.base import Capability, CharacterKeeper
from reelforge.providers.registry import ProviderRegistry
from reelforge.services import Services
from reelforge.settings import Settings

__all__ = ["CharacterService"]

log = get_logger(__name__)

_RECONCILE_RUNS = 50


class CharacterService:
    """Characters and their images; see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        assets: AssetService,
        store: MediaStore,
        providers: ProviderRegistry,
        budget: BudgetService,
        engine: EngineService | None,
        suggester: PromptSuggester,
    ) -> None:
        self._settings = settings
        self._config = settings.characters
        self._catalog = catalog
        self._repository = CharacterRepository.on(catalog)
        self._assets = assets
        self._store = store
        self._providers = providers
        self._budget = budget
        self._engine = engine
        self._suggester = suggester
        self._recorder = RunRecorder(self._repository, catalog, providers)

    @classmethod
    def from_services(cls, services: Services) -> CharacterService:
        config = services.settings.characters
        suggester: PromptSuggester = FactualSuggester()
        if config.suggester == "llm":
            suggester = LlmSuggester(config.llm, services.http, services.providers.environ)
        return cls(
            settings=services.settings,
            catalog=services.catalog,
            assets=services.assets,
            store=services.store,
            providers=services.providers,
            budget=services.budget,
            engine=services.engine,
            suggester=suggester,
        )

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

    async def record(self, character_id: str) -> CharacterRecord:
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
        character = await self._repository.get(character_id)
        text = prompt.strip() if prompt and prompt.strip() else reference_prompt(character)
        provider = self._provider()
        generation = reference_generation(
            character, text, provider, self._config, keeper=self._keeps(provider)
        )
        return await self._generate(character, generation, dry_run, created_by)

    async def generate_portfolio(
        self,
        character_id: str,
        reference_image_id: str | None = None,
        *,
        dry_run: bool = False,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        """The 360° set, from the chosen reference image (else the newest reference)."""
        character = await self._repository.get(character_id)
        reference = await self._reference(character_id, reference_image_id)
        provider = self._provider()
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
        return await self._generate(character, generation, dry_run, created_by)

    async def generate_scene(
        self,
        character_id: str,
        scene_context: str,
        *,
        dry_run: bool = False,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        if not scene_context.strip():
            raise InvalidInput("sceneContext must not be empty.", details={"field": "sceneContext"})
        character = await self._repository.get(character_id)
        provider = self._provider()
        generation = scene_generation(
            character, scene_context, provider, self._config, keeper=self._keeps(provider)
        )
        return await self._generate(character, generation, dry_run, created_by)

    async def _generate(
        self,
        character: CharacterRecord,
        generation: Generation,
        dry_run: bool,
        created_by: str | None,
    ) -> dict[str, Any]:
        scopes = scopes_for(project_id=character.project_id)
        if dry_run:
            estimate = await self._budget.estimate_plan(generation.plan(), scopes)
            return {"success": True, **estimate.to_json(), "jobs": generation.planned_jobs()}
        engine = self._require_engine()
        wait = WaitPolicy(poll_interval_s=self._config.poll_interval_s)
        run_id = await engine.start_run(
            FEATURE,
            generation.specs,
            wait=wait,
            input=generation.run_input,
            project_id=character.project_id,
        )
        log.info(
            "characters.generation.started",
            character_id=character.id,
            kind=generation.kind,
            provider=generation.provider,
            jobs=len(generation.specs),
            run_id=run_id,
        )
        view = await engine.wait_for_run(run_id, self._config.wait_s)
        if not view.done:
            return {"success": True, "pending": True, "runId": run_id, "images": [], "failed": []}
        recorded = await self._recorder.record(
            await self._catalog.runs.get(run_id), created_by=created_by
        )
        if not recorded.images and recorded.failed:
            raise error_from_job(recorded.failed[0])
        images = [await self._image_view(image) for image in recorded.images]
        return {
            "success": True,
            "pending": False,
            "runId": run_id,
            "images": images,
            "failed": [_public_failure(f) for f in recorded.failed],
        }

    # -- images ------------------------------------------------------------------------------

    async def list_images(self, character_id: str) -> builtins.list[dict[str, Any]]:
        """The character's images, newest first, each joined with its asset and URLs."""
        await self._repository.get(character_id)
        await self._record_finished_runs(character_id)
        images = await self._repository.list_images(character_id)
        return [await self._image_view(image) for image in images]

    async def image_records(self, character_id: str) -> builtins.list[CharacterImageRecord]:
        return await self._repository.list_images(character_id)

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
            assert isinstance(provider, CharacterKeeper)
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

    def _provider(self) -> str:
        return choose_provider(self._settings, self._providers)

    def _keeps(self, provider_id: str) -> bool:
        return keeps_characters(self._providers, provider_id)

    def _require_engine(self) -> EngineService:
        if self._engine is None:
            raise ConfigurationError(
                "Generating images needs the job engine, which is not running in this process."
            )
        return self._engine

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

    async def _record_finished_runs(self, character_id: str) -> None:
        """Record this character's runs that finished after their request stopped waiting."""
        runs = await self._catalog.runs.list(feature=FEATURE, limit=_RECONCILE_RUNS)
        for run in runs:
            if (
                run.response is None
                and run.status in TERMINAL_RUN_STATUSES
                and run.input.get("character_id") == character_id
            ):
                await self._recorder.record(run)


def _public_failure(failure: dict[str, Any]) -> dict[str, Any]:
    return {
        "label": failure.get("label"),
        "jobId": failure.get("job_id"),
        "code": failure.get("code"),
        "message": failure.get("message"),
    }
