from __future__ import annotations

import asyncio
from importlib.resources import files
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.engine import Connection

from reelforge.catalog import create_engine, current_revision, head_revision, upgrade_database
from reelforge.catalog.migrate import alembic_config
from reelforge.errors import ConfigurationError
from reelforge.schema import metadata


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata()))


def _check_constraints(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: {str(check["name"]) for check in inspector.get_check_constraints(table)}
        for table in metadata().tables
    }


def test_migrations_ship_inside_the_package() -> None:
    folder = files("reelforge.catalog").joinpath("migrations")
    assert folder.joinpath("env.py").is_file()
    assert folder.joinpath("script.py.mako").is_file()
    assert folder.joinpath("versions", "0001_initial.py").is_file()
    assert alembic_config().get_main_option("script_location") == "reelforge.catalog:migrations"
    # Revisions are numbered files; the head is the highest number shipped.
    shipped = sorted(
        entry.name.split("_", 1)[0]
        for entry in folder.joinpath("versions").iterdir()
        if entry.name[:4].isdigit() and entry.name.endswith(".py")
    )
    assert head_revision() == shipped[-1]


async def test_current_revision_before_and_after_upgrade(blank_database_url: str) -> None:
    assert await current_revision(blank_database_url) is None
    await upgrade_database(blank_database_url)
    assert await current_revision(blank_database_url) == head_revision()


async def test_upgrade_is_idempotent(database_url: str) -> None:
    await upgrade_database(database_url)
    await upgrade_database(database_url)
    assert await current_revision(database_url) == head_revision()


async def test_concurrent_upgrades_do_not_collide(blank_database_url: str) -> None:
    await asyncio.gather(*(upgrade_database(blank_database_url) for _ in range(3)))
    assert await current_revision(blank_database_url) == head_revision()


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(_schema_diff)
            checks = await connection.run_sync(_check_constraints)
    finally:
        await engine.dispose()
    assert diff == []
    # compare_metadata does not look at CHECK constraints: compare their names here.
    expected = {
        name: {
            str(constraint.name)
            for constraint in table.constraints
            if isinstance(constraint, CheckConstraint)
        }
        for name, table in metadata().tables.items()
    }
    assert checks == expected


async def test_alembic_finds_nothing_to_autogenerate(database_url: str) -> None:
    # Goes through env.py's URL path, as `alembic check` or a drafted revision would.
    await asyncio.to_thread(command.check, alembic_config(database_url, metadata=metadata()))


async def test_a_database_from_a_newer_release_is_refused(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()
    with pytest.raises(ConfigurationError, match="9999"):
        await upgrade_database(database_url)
