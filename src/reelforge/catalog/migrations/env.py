"""Alembic environment of the catalog.

:mod:`reelforge.catalog.migrate` runs it with an open connection in ``config.attributes``; the
``alembic`` command line (with a config from ``migrate.alembic_config``) runs it with a URL.
SQLite migrations are rendered in batch mode, since SQLite can alter little in place. The schema
to compare against (autogenerate, ``alembic check``) comes in ``config.attributes`` as
``target_metadata`` (:func:`reelforge.schema.metadata`): the catalog names no feature.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from reelforge.catalog.db import create_engine
from reelforge.catalog.models import Base

config = context.config
# Without one, the tables imported so far: enough to upgrade, not to autogenerate.
target_metadata = config.attributes.get("target_metadata", Base.metadata)


def _run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_with)
            await connection.commit()
    finally:
        await engine.dispose()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or run through reelforge.catalog.migrate")
    return url


def run() -> None:
    connection = config.attributes.get("connection")
    if context.is_offline_mode():
        context.configure(
            url=_url(),
            target_metadata=target_metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
    elif isinstance(connection, Connection):
        _run_with(connection)
    else:
        asyncio.run(_run_with_url(_url()))


run()
