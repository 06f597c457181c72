"""The SQLite library under the embedded engine's database: sqlean.py's, on every Python.

DBOS stamps its SQLite rows with ``unixepoch('subsec')`` when it runs on Python 3.12 or later,
and with ``strftime('%s')`` on 3.11: it takes the Python version for the SQLite version,
because python.org's builds of 3.12 and later bring SQLite 3.42 or newer. A Python linked
against an older system library (Debian 12's 3.40.1, which its own and pyenv's Pythons use) knows
no ``'subsec'``, returns NULL there, and the engine's first write fails with ``NOT NULL
constraint failed: application_versions.version_timestamp``.

So the engine's database goes through sqlean.py, the standard library's ``sqlite3`` module built
with a current SQLite of its own (:data:`dbapi`): one SQLite for the engine, whatever the
machine's Python links. Every connection this process makes to that file must use it: two SQLite
libraries in one process do not see each other's locks on a file, and closing a file in one
drops the other's (https://sqlite.org/howtocorrupt.html, section 2.2.1). The catalog keeps the
standard library's module; it never opens the engine's file.
"""

from __future__ import annotations

import sys

import sqlean.dbapi2 as dbapi  # type: ignore[import-untyped]

from reelforge.errors import ConfigurationError

__all__ = ["MIN_SQLITE_FOR_SUBSEC", "dbapi", "require_sqlite_for_dbos"]

#: The first SQLite with ``unixepoch('subsec')``.
MIN_SQLITE_FOR_SUBSEC = (3, 42, 0)


def require_sqlite_for_dbos(
    python: tuple[int, int] | None = None, sqlite: tuple[int, int, int] | None = None
) -> None:
    """Refuse, naming the fix, to run the embedded engine where DBOS's SQLite statements fail
    (``sqlite``: the engine driver's library by default)."""
    python = python or (sys.version_info.major, sys.version_info.minor)
    sqlite = sqlite or dbapi.sqlite_version_info
    if python >= (3, 12) and sqlite < MIN_SQLITE_FOR_SUBSEC:
        needed = ".".join(map(str, MIN_SQLITE_FOR_SUBSEC))
        found = ".".join(map(str, sqlite))
        raise ConfigurationError(
            f"The embedded engine on Python {python[0]}.{python[1]} needs SQLite {needed} or "
            f"newer, and its driver (sqlean.py) brings SQLite {found}. Install Reelforge with "
            "its tested versions (pip install -c constraints.txt .), or use PostgreSQL for the "
            "engine (REELFORGE_ENGINE__SYSTEM_DATABASE_URL=postgresql://...).",
            details={"python": f"{python[0]}.{python[1]}", "sqlite": found, "needed": needed},
        )
