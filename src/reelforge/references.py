"""Reference images of the characters a request names, and which of them go with each job.

Shared by the features that show characters (key frames, segments, cutscenes, the transform):
features never import each other, so what they share about a character's look lives here, in
the core. A profile is anything with a ``name``, a ``character_id`` and a
``reference_image_url`` (:class:`ReferenceProfile`; each feature's schema has its own).

A profile's references, in this order:

1. its ``reference_image_url``, through safe ingest like every input URL (size cap, sniffing, no
   private addresses unless allowed; a ``data:`` URI is decoded): the same
   :class:`~reelforge.assets.AssetService` calls every feature uses. A dry run fetches nothing
   and shows the URL;
2. the newest reference image of its workspace character (``character_id``), read through
   :class:`CharacterReferences`, which the composition root wires to the characters feature
   (features never import each other). An unknown character, or one without a reference image
   yet, is refused with ``INVALID_INPUT`` naming the profile;
3. that character's newest 360° set (its views, in the order they were recorded), as *extra*
   references: a job sends every cast member's own references first and the extras after them,
   so a 360° set only fills the room the provider has left.

A job sends the references of its cast, in cast order, each once, up to what the provider takes
per request of that capability (:attr:`reelforge.providers.base.Provider.reference_images`); a
provider that takes none renders from the text alone, and the plan says so
(``fallback_to_text``). :meth:`ReferenceResolver.of_character` is a workspace character's
newest reference alone (a cutscene's ``characters``, the transform's identity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from reelforge.assets import AssetService
from reelforge.catalog.records import AssetRecord
from reelforge.errors import InvalidInput, NotFound

__all__ = [
    "CharacterReferences",
    "FrameReferences",
    "Reference",
    "ReferenceProfile",
    "ReferenceResolver",
    "frame_references",
]


class ReferenceProfile(Protocol):
    """A character profile as far as references go (each feature's schema has its own)."""

    @property
    def name(self) -> str: ...

    @property
    def character_id(self) -> str | None: ...

    @property
    def reference_image_url(self) -> str | None: ...


class CharacterReferences(Protocol):
    """Where workspace characters' reference images are read from (the characters feature)."""

    async def newest_reference(self, character_id: str) -> AssetRecord | None:
        """The asset of the character's newest reference image, None if it has none yet;
        :class:`~reelforge.errors.NotFound` for a character that does not exist."""
        ...

    async def lookup(self, id_or_name: str) -> tuple[str, str] | None:
        """``(id, name)`` of the workspace character with this id, else of the newest one with
        this name; None when there is neither."""
        ...

    async def turnaround(self, character_id: str) -> list[AssetRecord]:
        """The image assets of the character's newest 360° set, in the order they were recorded
        (empty when it has none)."""
        ...


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference image: how the plan shows it (an asset id, or in a dry run the URL not
    yet fetched) and the asset that holds it (None until ingested)."""

    label: str
    asset_id: str | None
    #: A view of the character's 360° set: sent after every cast member's own references.
    extra: bool = False


@dataclass(frozen=True, slots=True)
class FrameReferences:
    """What one frame sends: ``sent`` in cast order; ``left_out`` past the provider's limit;
    ``fallback_to_text`` when its cast has references that the provider cannot take at all."""

    sent: tuple[Reference, ...] = ()
    left_out: tuple[Reference, ...] = ()
    fallback_to_text: bool = False


class ReferenceResolver:
    """Turns profiles' ``character_id`` and ``reference_image_url`` into references."""

    def __init__(self, characters: CharacterReferences, assets: AssetService) -> None:
        self._characters = characters
        self._assets = assets

    async def of_profiles(
        self,
        profiles: Sequence[ReferenceProfile],
        *,
        ingest: bool,
        project_id: str | None = None,
        field: str = "character_profiles",
    ) -> dict[str, tuple[Reference, ...]]:
        """Each profile's references, by profile name (profiles with none are left out).
        ``ingest`` False (a dry run): URLs are shown, not fetched. ``field``: where the
        profiles are in the request, for errors."""
        by_url: dict[str, Reference] = {}
        found: dict[str, tuple[Reference, ...]] = {}
        for profile in profiles:
            references: list[Reference] = []
            url = profile.reference_image_url
            if url is not None:
                if url not in by_url:
                    by_url[url] = await self._from_url(url, profile, ingest, project_id, field)
                references.append(by_url[url])
            if profile.character_id is not None:
                references.append(await self._from_workspace(profile, field))
                references += [
                    Reference(asset.id, asset.id, extra=True)
                    for asset in await self._characters.turnaround(profile.character_id)
                ]
            if references:
                found[profile.name] = tuple(references)
        return found

    async def of_character(self, character_id: str, *, field: str) -> Reference | None:
        """A workspace character's newest reference image (None: it has none yet);
        :class:`~reelforge.errors.NotFound` naming ``field`` for a character that does not
        exist."""
        try:
            asset = await self._characters.newest_reference(character_id)
        except NotFound as exc:
            raise NotFound(
                f"Workspace character {character_id!r} does not exist.",
                details={**exc.details, "field": field, "character_id": character_id},
            ) from None
        if asset is None or asset.kind != "image":
            return None
        return Reference(asset.id, asset.id)

    async def _from_url(
        self,
        url: str,
        profile: ReferenceProfile,
        ingest: bool,
        project_id: str | None,
        field: str,
    ) -> Reference:
        if not ingest:
            return Reference(_shown(url), None)
        try:
            if url[:5].lower() == "data:":
                record = await self._assets.ingest_base64(url, project_id=project_id)
            else:
                record = await self._assets.ingest_url(url, project_id=project_id)
        except InvalidInput as exc:
            exc.details.setdefault("field", f"{field}.reference_image_url")
            exc.details.setdefault("character", profile.name)
            raise
        _check_image(record, profile, f"{field}.reference_image_url")
        return Reference(record.id, record.id)

    async def _from_workspace(self, profile: ReferenceProfile, field: str) -> Reference:
        character_id = profile.character_id
        assert character_id is not None
        details = {
            "field": f"{field}.character_id",
            "character": profile.name,
            "character_id": character_id,
        }
        try:
            asset = await self._characters.newest_reference(character_id)
        except NotFound:
            raise InvalidInput(
                f"Character profile {profile.name!r} names workspace character "
                f"{character_id!r}, which does not exist.",
                details=details,
            ) from None
        if asset is None:
            raise InvalidInput(
                f"Character profile {profile.name!r} names workspace character "
                f"{character_id!r}, which has no reference image yet: make one "
                f"(POST /v1/characters/{character_id}/generate-initial-image), or leave "
                "character_id out.",
                details=details,
            )
        _check_image(asset, profile, f"{field}.character_id")
        return Reference(asset.id, asset.id)


def frame_references(
    cast: Sequence[ReferenceProfile],
    by_profile: Mapping[str, tuple[Reference, ...]],
    limit: int,
) -> FrameReferences:
    """The references a job showing ``cast`` sends to a provider taking ``limit`` of them."""
    wanted: list[Reference] = []
    seen: set[str] = set()
    for extras in (False, True):
        for profile in cast:
            for reference in by_profile.get(profile.name, ()):
                if reference.extra is extras and reference.label not in seen:
                    seen.add(reference.label)
                    wanted.append(reference)
    if not wanted:
        return FrameReferences()
    if limit <= 0:
        return FrameReferences(left_out=tuple(wanted), fallback_to_text=True)
    return FrameReferences(sent=tuple(wanted[:limit]), left_out=tuple(wanted[limit:]))


def _check_image(record: AssetRecord, profile: ReferenceProfile, field: str) -> None:
    if record.kind != "image":
        raise InvalidInput(
            f"The reference of character profile {profile.name!r} must be an image; it is a "
            f"{record.kind}.",
            details={"field": field, "character": profile.name},
        )


def _shown(url: str) -> str:
    """A URL as a plan shows it: a ``data:`` URI by its media type only."""
    if url[:5].lower() != "data:":
        return url
    media_type = url[5:].split(",", 1)[0].split(";", 1)[0] or "?"
    return f"data:{media_type} ({len(url)} characters)"
