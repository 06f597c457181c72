from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from reelforge.catalog import create_engine
from reelforge.catalog.db import normalize_url
from reelforge.errors import ConfigurationError


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///data/reelforge.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///data/reelforge.db", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "not a url"],
)
def test_unsupported_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        create_engine(url)


async def test_sqlite_engine_creates_its_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "reelforge.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_s=7)
    try:
        assert path.parent.is_dir()
        async with engine.connect() as connection:
            foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
            journal = await connection.scalar(text("PRAGMA journal_mode"))
            busy = await connection.scalar(text("PRAGMA busy_timeout"))
    finally:
        await engine.dispose()
    assert (foreign_keys, journal, busy) == (1, "wal", 7000)


async def test_postgres_engine_connects(database_url: str, database_backend: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
            assert connection.dialect.name == database_backend
    finally:
        await engine.dispose()
