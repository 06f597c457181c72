"""The embedded engine refuses, naming the fix, a Python whose SQLite DBOS cannot use."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from reelforge.engine.runtime import sqlite_system_engine
from reelforge.engine.sqlite_support import MIN_SQLITE_FOR_SUBSEC, require_sqlite_for_dbos
from reelforge.errors import ConfigurationError


def test_python_3_12_with_debian_12s_sqlite_is_refused_naming_the_versions() -> None:
    with pytest.raises(ConfigurationError) as refused:
        require_sqlite_for_dbos(python=(3, 13), sqlite=(3, 40, 1))
    assert "SQLite 3.42.0 or newer" in refused.value.message
    assert "SQLite 3.40.1" in refused.value.message
    assert refused.value.details == {"python": "3.13", "sqlite": "3.40.1", "needed": "3.42.0"}


@pytest.mark.parametrize(
    ("python", "sqlite"), [((3, 11), (3, 40, 1)), ((3, 13), (3, 42, 0)), ((3, 12), (3, 46, 1))]
)
def test_python_3_11_or_a_new_enough_sqlite_is_accepted(
    python: tuple[int, int], sqlite: tuple[int, int, int]
) -> None:
    require_sqlite_for_dbos(python=python, sqlite=sqlite)


def test_this_python_gets_an_engine_only_where_dbos_can_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/engine.sqlite"
    usable = sys.version_info < (3, 12) or sqlite3.sqlite_version_info >= MIN_SQLITE_FOR_SUBSEC
    if usable:
        sqlite_system_engine(url, pool_size=1).dispose()
    else:
        with pytest.raises(ConfigurationError):
            sqlite_system_engine(url, pool_size=1)
