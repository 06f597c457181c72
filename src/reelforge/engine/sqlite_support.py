"""Whether this Python's SQLite can hold DBOS's embedded system database.

On Python 3.12 and later DBOS stamps rows with ``unixepoch('subsec')``, which SQLite knows from
3.42.0 on; an older library (Debian 12 ships 3.40.1) returns NULL there, and the engine's first
write fails with ``NOT NULL constraint failed: application_versions.version_timestamp``. On
Python 3.11 DBOS uses ``strftime('%s')``, which every SQLite has.
"""

from __future__ import annotations

import sqlite3
import sys

from reelforge.errors import ConfigurationError

__all__ = ["MIN_SQLITE_FOR_SUBSEC", "require_sqlite_for_dbos"]

#: The first SQLite with ``unixepoch('subsec')``.
MIN_SQLITE_FOR_SUBSEC = (3, 42, 0)


def require_sqlite_for_dbos(
    python: tuple[int, int] | None = None, sqlite: tuple[int, int, int] | None = None
) -> None:
    """Refuse, naming the fix, to run the embedded engine where DBOS's SQLite statements fail."""
    python = python or (sys.version_info.major, sys.version_info.minor)
    sqlite = sqlite or sqlite3.sqlite_version_info
    if python >= (3, 12) and sqlite < MIN_SQLITE_FOR_SUBSEC:
        needed = ".".join(map(str, MIN_SQLITE_FOR_SUBSEC))
        found = ".".join(map(str, sqlite))
        raise ConfigurationError(
            f"The embedded engine on Python {python[0]}.{python[1]} needs SQLite {needed} or "
            f"newer, and this Python's sqlite3 module uses SQLite {found}. Use Python 3.11, a "
            f"Python built against SQLite {needed}+, or PostgreSQL for the engine "
            "(REELFORGE_ENGINE__SYSTEM_DATABASE_URL=postgresql://...).",
            details={"python": f"{python[0]}.{python[1]}", "sqlite": found, "needed": needed},
        )
