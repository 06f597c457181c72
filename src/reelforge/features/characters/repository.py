"""The characters feature's SQL: characters and their ``character-image-metadata`` rows, as
records (the tables: :mod:`reelforge.features.characters.tables`).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import bindparam, delete, func, select

from reelforge.catalog.models import Asset
from reelforge.catalog.records import AssetRecord
from reelforge.catalog.repositories._base import (
    Repository,
    check_choice,
    check_page,
    json_document,
)
from reelforge.catalog.repositories.assets import asset_record
from reelforge.errors import Conflict, NotFound
from reelforge.features.characters.schemas import (
    IMAGE_KINDS,
    IMAGE_STATUSES,
    ImageKind,
    ImageStatus,
)
from reelforge.features.characters.tables import CharacterImageRow, CharacterRow

__all__ = [
    "CharacterImageRecord",
    "CharacterRecord",
    "CharacterRepository",
]


@dataclass(frozen=True, slots=True)
class CharacterRecord:
    """A character as the feature sees it (``visual`` holds only the facts given)."""

    id: str
    project_id: str | None
    name: str
    description: str
    visual: dict[str, Any]
    library_db_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CharacterImageRecord:
    """One row of ``character-image-metadata``."""

    id: str
    character_id: str
    asset_id: str
    kind: ImageKind
    provider: str
    prompt: str
    source_url: str | None
    external_id: str | None
    status: ImageStatus
    error: str | None
    metrics: dict[str, Any]
    run_id: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


def _character(row: CharacterRow) -> CharacterRecord:
    return CharacterRecord(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        visual=dict(row.visual),
        library_db_id=row.library_db_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _image(row: CharacterImageRow) -> CharacterImageRecord:
    return CharacterImageRecord(
        id=row.id,
        character_id=row.character_id,
        asset_id=row.asset_id,
        kind=cast(ImageKind, row.kind),
        provider=row.provider,
        prompt=row.prompt,
        source_url=row.source_url,
        external_id=row.external_id,
        status=cast(ImageStatus, row.status),
        error=row.error,
        metrics=dict(row.metrics),
        run_id=row.run_id,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _no_character(character_id: str) -> NotFound:
    return NotFound(f"No character {character_id!r}.", details={"character_id": character_id})


_UPDATABLE = frozenset({"name", "project_id", "description", "visual", "library_db_id"})


# A character's images with their assets, built once (see images_with_assets).
_CHARACTER_EXISTS = select(CharacterRow.id).where(CharacterRow.id == bindparam("character_id"))
_IMAGES_WITH_ASSETS = (
    select(CharacterImageRow, Asset)
    .outerjoin(Asset, Asset.id == CharacterImageRow.asset_id)
    .where(CharacterImageRow.character_id == bindparam("character_id"))
    .order_by(CharacterImageRow.created_at.desc(), CharacterImageRow.id.desc())
    .limit(500)
)


class CharacterRepository(Repository):
    """Characters and their image metadata; every method is one transaction."""

    async def create(
        self,
        *,
        name: str,
        project_id: str | None = None,
        description: str = "",
        visual: Mapping[str, Any] | None = None,
        library_db_id: str | None = None,
    ) -> CharacterRecord:
        now = self._now()
        row = CharacterRow(
            name=name,
            project_id=project_id,
            description=description,
            visual=json_document(visual or {}, "visual"),
            library_db_id=library_db_id,
            created_at=now,
            updated_at=now,
        )
        async with self._write() as session:
            session.add(row)
            await session.flush()
            return _character(row)

    async def get(self, character_id: str) -> CharacterRecord:
        async with self._read() as session:
            row = await session.get(CharacterRow, character_id)
            if row is None:
                raise _no_character(character_id)
            return _character(row)

    async def list(
        self, *, project_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> builtins.list[CharacterRecord]:
        """Newest first."""
        check_page(limit, offset)
        query = select(CharacterRow).order_by(
            CharacterRow.created_at.desc(), CharacterRow.id.desc()
        )
        if project_id is not None:
            query = query.where(CharacterRow.project_id == project_id)
        async with self._read() as session:
            rows = await session.scalars(query.limit(limit).offset(offset))
            return [_character(row) for row in rows]

    async def find_named(self, name: str) -> CharacterRecord | None:
        """The newest character of exactly this name, compared without regard to case."""
        query = (
            select(CharacterRow)
            .where(func.lower(CharacterRow.name) == name.strip().lower())
            .order_by(CharacterRow.created_at.desc(), CharacterRow.id.desc())
            .limit(1)
        )
        async with self._read() as session:
            row = await session.scalar(query)
            return None if row is None else _character(row)

    async def update(self, character_id: str, changes: Mapping[str, Any]) -> CharacterRecord:
        """Set the given fields (names as in :class:`CharacterRecord`)."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        async with self._write() as session:
            row = await session.get(CharacterRow, character_id, with_for_update=True)
            if row is None:
                raise _no_character(character_id)
            for name, value in changes.items():
                if name == "visual":
                    value = json_document(value, "visual")
                setattr(row, name, value)
            row.updated_at = self._now()
            await session.flush()
            return _character(row)

    async def add_image(
        self,
        *,
        character_id: str,
        asset_id: str,
        kind: ImageKind,
        provider: str,
        prompt: str,
        source_url: str | None = None,
        external_id: str | None = None,
        status: ImageStatus = "succeeded",
        error: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        created_by: str | None = None,
    ) -> CharacterImageRecord:
        """Record an ingested image; an asset already recorded raises Conflict."""
        check_choice(kind, IMAGE_KINDS, "kind")
        check_choice(status, IMAGE_STATUSES, "status")
        now = self._now()
        row = CharacterImageRow(
            character_id=character_id,
            asset_id=asset_id,
            kind=kind,
            provider=provider,
            prompt=prompt,
            source_url=source_url,
            external_id=external_id,
            status=status,
            error=error,
            metrics=json_document(metrics or {}, "metrics"),
            run_id=run_id,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._write() as session:
                session.add(row)
                await session.flush()
                return _image(row)
        except Conflict:
            raise Conflict(
                f"Asset {asset_id!r} is already recorded as a character image.",
                details={"asset_id": asset_id},
            ) from None

    async def get_image(self, character_id: str, image_id: str) -> CharacterImageRecord:
        async with self._read() as session:
            row = await session.get(CharacterImageRow, image_id)
            if row is None or row.character_id != character_id:
                raise NotFound(
                    f"Character {character_id!r} has no image {image_id!r}.",
                    details={"character_id": character_id, "image_id": image_id},
                )
            return _image(row)

    async def list_images(
        self, character_id: str, *, kind: ImageKind | None = None, limit: int = 500
    ) -> builtins.list[CharacterImageRecord]:
        """Newest first."""
        check_page(limit, 0)
        query = (
            select(CharacterImageRow)
            .where(CharacterImageRow.character_id == character_id)
            .order_by(CharacterImageRow.created_at.desc(), CharacterImageRow.id.desc())
            .limit(limit)
        )
        if kind is not None:
            check_choice(kind, IMAGE_KINDS, "kind")
            query = query.where(CharacterImageRow.kind == kind)
        async with self._read() as session:
            return [_image(row) for row in await session.scalars(query)]

    async def images_with_assets(
        self, character_id: str
    ) -> builtins.list[tuple[CharacterImageRecord, AssetRecord | None]]:
        """The character's images, newest first (at most 500), each with its asset (None if
        it is gone): one transaction of two statements however many images there are;
        ``NotFound`` for a character that does not exist."""
        parameters = {"character_id": character_id}
        async with self._read() as session:
            if (await session.execute(_CHARACTER_EXISTS, parameters)).first() is None:
                raise _no_character(character_id)
            rows = (await session.execute(_IMAGES_WITH_ASSETS, parameters)).all()
            return [
                (_image(image), asset_record(asset) if asset is not None else None)
                for image, asset in rows
            ]

    async def images_of_assets(
        self, asset_ids: builtins.list[str]
    ) -> dict[str, CharacterImageRecord]:
        """The metadata rows of those of ``asset_ids`` that have one, by asset id."""
        if not asset_ids:
            return {}
        query = select(CharacterImageRow).where(CharacterImageRow.asset_id.in_(asset_ids))
        async with self._read() as session:
            return {row.asset_id: _image(row) for row in await session.scalars(query)}

    async def images_by_id(
        self, image_ids: builtins.list[str]
    ) -> builtins.list[CharacterImageRecord]:
        """The rows of ``image_ids`` that still exist, in the order given."""
        if not image_ids:
            return []
        query = select(CharacterImageRow).where(CharacterImageRow.id.in_(image_ids))
        async with self._read() as session:
            found = {row.id: _image(row) for row in await session.scalars(query)}
        return [found[image_id] for image_id in image_ids if image_id in found]

    async def delete_image(self, image_id: str) -> None:
        async with self._write() as session:
            result = await session.execute(
                delete(CharacterImageRow)
                .where(CharacterImageRow.id == image_id)
                .returning(CharacterImageRow.id)
            )
            if result.scalar_one_or_none() is None:
                raise NotFound(f"No character image {image_id!r}.", details={"image_id": image_id})
