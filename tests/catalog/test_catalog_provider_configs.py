from __future__ import annotations

import asyncio

import pytest

from reelforge.catalog import Catalog
from reelforge.errors import InvalidInput, NotFound


async def test_upsert_creates_then_replaces(catalog: Catalog) -> None:
    created = await catalog.provider_configs.upsert(
        provider="fal",
        name="default",
        base_url="https://queue.fal.run",
        credential_env="FAL_KEY",
        options={"sync_mode": False},
    )
    assert (created.enabled, created.options) == (True, {"sync_mode": False})
    assert await catalog.provider_configs.get("fal", "default") == created

    replaced = await catalog.provider_configs.upsert(
        provider="fal", name="default", credential_env="FAL_KEY_2", enabled=False
    )
    assert replaced.id == created.id
    assert replaced.created_at == created.created_at
    assert replaced.updated_at >= created.updated_at
    assert (replaced.base_url, replaced.credential_env, replaced.options, replaced.enabled) == (
        None,
        "FAL_KEY_2",
        {},
        False,
    )


@pytest.mark.parametrize(
    "value", ["fal_key", "1KEY", "FAL-KEY", "sk-live-0123456789", "FAL KEY", "", "A" * 129]
)
async def test_credential_env_must_name_a_variable(catalog: Catalog, value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await catalog.provider_configs.upsert(provider="fal", name="x", credential_env=value)
    if value:
        assert value not in caught.value.message
        assert value not in str(caught.value.to_payload())
    assert await catalog.provider_configs.list() == []


async def test_valid_credential_env_names(catalog: Catalog) -> None:
    for index, value in enumerate(["FAL_KEY", "_PRIVATE", "R2_ACCESS_KEY_ID_2"]):
        record = await catalog.provider_configs.upsert(
            provider="fal", name=f"n{index}", credential_env=value
        )
        assert record.credential_env == value


async def test_options_and_urls_are_checked(catalog: Catalog) -> None:
    with pytest.raises(InvalidInput):
        await catalog.provider_configs.upsert(
            provider="fal", name="x", options={"headers": {"api_key": "secret"}}
        )
    with pytest.raises(InvalidInput):
        await catalog.provider_configs.upsert(provider="fal", name="x", base_url="ftp://h")


async def test_list_get_delete(catalog: Catalog) -> None:
    await catalog.provider_configs.upsert(provider="runway", name="default")
    await catalog.provider_configs.upsert(provider="fal", name="fast", enabled=False)
    await catalog.provider_configs.upsert(provider="fal", name="default")
    listed = await catalog.provider_configs.list()
    assert [(r.provider, r.name) for r in listed] == [
        ("fal", "default"),
        ("fal", "fast"),
        ("runway", "default"),
    ]
    assert [r.name for r in await catalog.provider_configs.list(provider="fal")] == [
        "default",
        "fast",
    ]
    assert [r.name for r in await catalog.provider_configs.list(enabled=False)] == ["fast"]
    await catalog.provider_configs.delete("fal", "fast")
    with pytest.raises(NotFound):
        await catalog.provider_configs.get("fal", "fast")
    with pytest.raises(NotFound):
        await catalog.provider_configs.delete("fal", "fast")


async def test_concurrent_first_upserts_make_one_row(catalog: Catalog) -> None:
    records = await asyncio.gather(
        *(
            catalog.provider_configs.upsert(provider="fal", name="default", options={"n": n})
            for n in range(5)
        )
    )
    assert len({r.id for r in records}) == 1
    assert len(await catalog.provider_configs.list()) == 1
