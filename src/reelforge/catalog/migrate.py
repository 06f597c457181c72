"""Schema migrations, run from code: no ``alembic.ini`` is needed at run time.

``await upgrade_database(url)`` brings a database to the newest revision and is safe to call on
every start, even from several processes at once: on PostgreSQL an advisory lock serialises the
upgraders, on SQLite the upgrade holds the write lock. New tables arrive as new files in
``migrations/versions`` (``NNNN_slug.py``, revision ``"NNNN"``); for a draft, run
``alembic.command.revision(alembic_config(url, metadata=reelforge.schema.metadata()), "message",
autogenerate=True, rev_id="0002")`` and edit the result.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from reelforge.catalog.db import WRITE_INTENT, create_engine, normalize_url
from reelforge.errors import ConfigurationError, StorageError

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade_database"]

SCRIPT_LOCATION = "reelforge.catalog:migrations"
# Any constant shared by every Reelforge process: it names the migration lock on PostgreSQL.
_PG_LOCK_KEY = 0x7265656C666F7267


def alembic_config(url: str | None = None, *, metadata: MetaData | None = None) -> Config:
    """An Alembic config for the catalog's migrations, built in code. ``metadata`` is the whole
    schema to compare against (autogenerate, ``alembic check``); upgrading does not need it."""
    config = Config()
    if metadata is not None:
        config.attributes["target_metadata"] = metadata
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        rendered = normalize_url(url).render_as_string(hide_password=False)
        # Config values go through configparser interpolation: a literal % must be doubled.
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision this version of Reelforge knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    with connection.begin():
        # Hold the lock before Alembic starts: its context is global to the process, so two
        # upgrades in one process must not interleave either.
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        else:
            # SQLite's BEGIN IMMEDIATE is deferred to the first statement (see sqlite_driver).
            connection.execute(text("SELECT 1"))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (default: the newest), in one transaction."""
    config = alembic_config(url)
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(**{WRITE_INTENT: True})
            await connection.run_sync(_upgrade, config, revision)
    except CommandError as exc:
        # Typically a database migrated by a newer Reelforge than this one.
        raise ConfigurationError(
            f"Cannot migrate the catalog database: {exc}", details={"revision": revision}
        ) from exc
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(
            f"Migrating the catalog database failed: {type(exc).__name__}",
            details={"error": type(exc).__name__},
        ) from exc
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None before the first migration."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(
            f"Reading the catalog's revision failed: {type(exc).__name__}",
            details={"error": type(exc).__name__},
        ) from exc
    finally:
        await engine.dispose()
