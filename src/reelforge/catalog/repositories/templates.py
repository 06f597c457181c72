"""Prompt templates: named, numbered, immutable versions."""

from __future__ import annotations

import builtins

from sqlalchemy import Select, func, select

from reelforge.catalog.models import PromptTemplate
from reelforge.catalog.records import PromptTemplateRecord
from reelforge.catalog.repositories._base import Repository, check_name, retry_on_conflict
from reelforge.errors import InvalidInput, NotFound

__all__ = ["PromptTemplateRepository"]


def _record(row: PromptTemplate) -> PromptTemplateRecord:
    return PromptTemplateRecord(
        id=row.id,
        name=row.name,
        version=row.version,
        body=row.body,
        model=row.model,
        created_at=row.created_at,
    )


def _newest(name: str) -> Select[PromptTemplate]:
    return (
        select(PromptTemplate)
        .where(PromptTemplate.name == name)
        .order_by(PromptTemplate.version.desc())
        .limit(1)
    )


class PromptTemplateRepository(Repository):
    """Versioned prompt templates. A version, once written, never changes.

    Version numbers are taken as ``max + 1`` inside the inserting transaction; two writers that
    pick the same number collide on the ``(name, version)`` unique constraint and the loser
    starts again, so concurrent writers always get distinct, gapless numbers.
    """

    async def add_version(
        self, name: str, body: str, *, model: str | None = None
    ) -> PromptTemplateRecord:
        """A new version of ``name`` (1 for a new name)."""
        return await self._add(name, body, model, reuse_identical=False)

    async def ensure_version(
        self, name: str, body: str, *, model: str | None = None
    ) -> PromptTemplateRecord:
        """The latest version if it already has this body and model, else a new version.

        Reloading an unchanged template file therefore never bumps its version.
        """
        return await self._add(name, body, model, reuse_identical=True)

    async def _add(
        self, name: str, body: str, model: str | None, *, reuse_identical: bool
    ) -> PromptTemplateRecord:
        check_name(name, "name", max_length=200)
        if not body:
            raise InvalidInput("A template needs a body.", details={"field": "body"})
        if model is not None and not 0 < len(model) <= 255:
            raise InvalidInput("model must be 1-255 characters.", details={"field": "model"})

        async def insert_next() -> PromptTemplateRecord:
            async with self._write() as session:
                if reuse_identical:
                    latest = await session.scalar(_newest(name))
                    if latest is not None and (latest.body, latest.model) == (body, model):
                        return _record(latest)
                current = await session.scalar(
                    select(func.max(PromptTemplate.version)).where(PromptTemplate.name == name)
                )
                row = PromptTemplate(
                    name=name,
                    version=(current or 0) + 1,
                    body=body,
                    model=model,
                    created_at=self._now(),
                )
                session.add(row)
                await session.flush()
                return _record(row)

        return await retry_on_conflict(insert_next)

    async def latest(self, name: str) -> PromptTemplateRecord:
        async with self._read() as session:
            row = await session.scalar(_newest(name))
            if row is None:
                raise NotFound(f"No prompt template {name!r}.", details={"name": name})
            return _record(row)

    async def get(self, name: str, version: int) -> PromptTemplateRecord:
        async with self._read() as session:
            row = await session.scalar(
                select(PromptTemplate).where(
                    PromptTemplate.name == name, PromptTemplate.version == version
                )
            )
            if row is None:
                raise NotFound(
                    f"No version {version} of prompt template {name!r}.",
                    details={"name": name, "version": version},
                )
            return _record(row)

    async def versions(self, name: str) -> builtins.list[PromptTemplateRecord]:
        """Every version of ``name``, oldest first (empty for an unknown name)."""
        async with self._read() as session:
            rows = await session.scalars(
                select(PromptTemplate)
                .where(PromptTemplate.name == name)
                .order_by(PromptTemplate.version)
            )
            return [_record(row) for row in rows]

    async def names(self) -> builtins.list[str]:
        async with self._read() as session:
            rows = await session.scalars(
                select(PromptTemplate.name).distinct().order_by(PromptTemplate.name)
            )
            return list(rows)
