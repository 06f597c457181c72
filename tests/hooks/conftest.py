"""The repository tests run on SQLite and on PostgreSQL (see fixtures.database)."""

from __future__ import annotations

from fixtures.database import blank_database_url, catalog, database_backend, database_url

__all__ = ["blank_database_url", "catalog", "database_backend", "database_url"]
