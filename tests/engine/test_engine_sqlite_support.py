"""The embedded engine's database runs on a SQLite that DBOS can write on this Python, whatever
SQLite the Python itself links (Debian 12's Pythons: 3.40.1, too old for DBOS on 3.12+)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from dbos._migration import get_sqlite_timestamp_expr

from reelforge.engine.runtime import sqlite_system_engine
from reelforge.engine.sqlite_support import MIN_SQLITE_FOR_SUBSEC, dbapi, require_sqlite_for_dbos
from reelforge.errors import ConfigurationError


def test_a_driver_with_debian_12s_sqlite_is_refused_on_python_3_12_naming_the_versions() -> None:
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


def test_the_engines_driver_brings_a_sqlite_with_subsecond_unixepoch() -> None:
    assert dbapi.sqlite_version_info >= MIN_SQLITE_FOR_SUBSEC
    require_sqlite_for_dbos()


def test_the_engines_database_fills_dboss_timestamp_default_on_this_python(
    tmp_path: Path,
) -> None:
    # DBOS's own column default, as its migrations create it for this Python's version.
    engine = sqlite_system_engine(f"sqlite:///{tmp_path}/engine.sqlite", pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE TABLE stamped (id INTEGER PRIMARY KEY, "
                    f"at INTEGER NOT NULL DEFAULT {get_sqlite_timestamp_expr()})"
                )
            )
            connection.execute(sa.text("INSERT INTO stamped DEFAULT VALUES"))
            subsecond = connection.execute(sa.text("SELECT unixepoch('subsec')")).scalar_one()
            at = connection.execute(sa.text("SELECT at FROM stamped")).scalar_one()
    finally:
        engine.dispose()
    assert isinstance(subsecond, float)
    assert at > 1_700_000_000_000, (sys.version_info[:2], at)
