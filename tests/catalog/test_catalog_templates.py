from __future__ import annotations

import asyncio

import pytest

from reelforge.catalog import Catalog
from reelforge.errors import InvalidInput, NotFound


async def test_versions_count_up_per_name(catalog: Catalog) -> None:
    v1 = await catalog.templates.add_version("keyframes.frame", "A {subject}.", model="flux")
    v2 = await catalog.templates.add_version("keyframes.frame", "A {subject}, {style}.")
    other = await catalog.templates.add_version("segments.motion", "Move {camera}.")
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert (v1.model, v2.model) == ("flux", None)
    assert await catalog.templates.latest("keyframes.frame") == v2
    assert await catalog.templates.get("keyframes.frame", 1) == v1
    assert await catalog.templates.versions("keyframes.frame") == [v1, v2]
    assert await catalog.templates.versions("unknown") == []
    assert await catalog.templates.names() == ["keyframes.frame", "segments.motion"]


async def test_versions_are_immutable(catalog: Catalog) -> None:
    v1 = await catalog.templates.add_version("t", "one")
    await catalog.templates.add_version("t", "two")
    assert await catalog.templates.get("t", 1) == v1
    public = {name for name in dir(catalog.templates) if not name.startswith("_")}
    # Nothing that changes or removes a version ("on" is every repository's constructor).
    assert public == {"add_version", "ensure_version", "get", "latest", "names", "on", "versions"}


async def test_ensure_version_reuses_an_identical_latest(catalog: Catalog) -> None:
    first = await catalog.templates.ensure_version("t", "body", model="m")
    assert await catalog.templates.ensure_version("t", "body", model="m") == first
    changed = await catalog.templates.ensure_version("t", "body", model=None)
    assert changed.version == 2
    assert (await catalog.templates.ensure_version("t", "new body")).version == 3


async def test_concurrent_writers_get_distinct_versions(catalog: Catalog) -> None:
    records = await asyncio.gather(
        *(catalog.templates.add_version("race", f"body {n}") for n in range(10))
    )
    assert sorted(r.version for r in records) == list(range(1, 11))
    stored = await catalog.templates.versions("race")
    assert [r.version for r in stored] == list(range(1, 11))
    assert {r.body for r in stored} == {f"body {n}" for n in range(10)}


async def test_missing_templates_are_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        await catalog.templates.latest("nope")
    await catalog.templates.add_version("t", "x")
    with pytest.raises(NotFound):
        await catalog.templates.get("t", 2)


@pytest.mark.parametrize(("name", "body"), [("", "x"), ("has space", "x"), ("t", "")])
async def test_invalid_templates_are_rejected(catalog: Catalog, name: str, body: str) -> None:
    with pytest.raises(InvalidInput):
        await catalog.templates.add_version(name, body)
