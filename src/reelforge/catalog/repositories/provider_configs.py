"""Provider configurations: named sets of endpoint, credential variable and options."""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from reelforge.catalog.models import ProviderConfig
from reelforge.catalog.records import ProviderConfigRecord
from reelforge.catalog.repositories._base import (
    Repository,
    check_name,
    json_document,
    retry_on_conflict,
)
from reelforge.errors import InvalidInput, NotFound

__all__ = ["ProviderConfigRepository"]

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _record(row: ProviderConfig) -> ProviderConfigRecord:
    return ProviderConfigRecord(
        id=row.id,
        provider=row.provider,
        name=row.name,
        base_url=row.base_url,
        credential_env=row.credential_env,
        options=row.options,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _missing(provider: str, name: str) -> NotFound:
    return NotFound(
        f"No configuration {name!r} for provider {provider!r}.",
        details={"provider": provider, "name": name},
    )


def _check_credential_env(credential_env: str | None) -> None:
    if credential_env is not None and not (
        _ENV_NAME.match(credential_env) and len(credential_env) <= 128
    ):
        # The value is never echoed: a pasted key must not end up in logs or responses.
        raise InvalidInput(
            "credential_env must name an environment variable (A-Z, 0-9 and _, not starting "
            "with a digit), never hold the credential itself.",
            details={"field": "credential_env"},
        )


def _check_base_url(base_url: str | None) -> None:
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise InvalidInput(
            "base_url must be an http:// or https:// URL.", details={"field": "base_url"}
        )


class ProviderConfigRepository(Repository):
    """Provider configurations, unique per ``(provider, name)``; secrets are never stored."""

    async def upsert(
        self,
        *,
        provider: str,
        name: str,
        base_url: str | None = None,
        credential_env: str | None = None,
        options: Mapping[str, Any] | None = None,
        enabled: bool = True,
    ) -> ProviderConfigRecord:
        """Create the configuration or replace every field of the existing one."""
        check_name(provider, "provider", max_length=64)
        check_name(name, "name", max_length=200)
        _check_base_url(base_url)
        _check_credential_env(credential_env)
        document = json_document(options or {}, "options", allow_secrets=False)

        async def write() -> ProviderConfigRecord:
            async with self._write() as session:
                now = self._now()
                row = await session.scalar(
                    select(ProviderConfig)
                    .where(ProviderConfig.provider == provider, ProviderConfig.name == name)
                    .with_for_update()
                )
                if row is None:
                    row = ProviderConfig(provider=provider, name=name, created_at=now)
                    session.add(row)
                row.base_url = base_url
                row.credential_env = credential_env
                row.options = document
                row.enabled = enabled
                row.updated_at = now
                await session.flush()
                return _record(row)

        # Two first upserts of one name race on the unique key; the loser retries as an update.
        return await retry_on_conflict(write, attempts=3)

    async def get(self, provider: str, name: str) -> ProviderConfigRecord:
        async with self._read() as session:
            row = await session.scalar(
                select(ProviderConfig).where(
                    ProviderConfig.provider == provider, ProviderConfig.name == name
                )
            )
            if row is None:
                raise _missing(provider, name)
            return _record(row)

    async def list(
        self, *, provider: str | None = None, enabled: bool | None = None
    ) -> builtins.list[ProviderConfigRecord]:
        """Sorted by provider, then name."""
        query = select(ProviderConfig).order_by(ProviderConfig.provider, ProviderConfig.name)
        if provider is not None:
            query = query.where(ProviderConfig.provider == provider)
        if enabled is not None:
            query = query.where(ProviderConfig.enabled == enabled)
        async with self._read() as session:
            rows = await session.scalars(query)
            return [_record(row) for row in rows]

    async def delete(self, provider: str, name: str) -> None:
        async with self._write() as session:
            result = await session.execute(
                delete(ProviderConfig)
                .where(ProviderConfig.provider == provider, ProviderConfig.name == name)
                .returning(ProviderConfig.id)
            )
            if result.scalar_one_or_none() is None:
                raise _missing(provider, name)
