from __future__ import annotations

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError

from fixtures.database import ADMIN_URL_ENV, postgres_database
from reelforge.catalog import Catalog, current_revision, upgrade_database
from reelforge.catalog.repositories import translate_error
from reelforge.errors import Conflict, InvalidInput, NotFound, ReelforgeError, StorageError

UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("boom")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (IntegrityError("s", {}, Exception("UNIQUE constraint failed: assets.key")), Conflict),
        (IntegrityError("s", {}, Exception("FOREIGN KEY constraint failed")), NotFound),
        (
            IntegrityError("s", {}, Exception("CHECK constraint failed: ck_runs_status")),
            InvalidInput,
        ),
        (
            IntegrityError("s", {}, Exception("NOT NULL constraint failed: runs.feature")),
            InvalidInput,
        ),
        (IntegrityError("s", {}, _PgError("23505")), Conflict),
        (IntegrityError("s", {}, _PgError("23503")), NotFound),
        (IntegrityError("s", {}, _PgError("23514")), InvalidInput),
        (DataError("s", {}, Exception("value too long")), InvalidInput),
        (StatementError("bind", "s", {}, TypeError("not JSON")), InvalidInput),
        (OperationalError("s", {}, Exception("database is locked")), StorageError),
        (ConnectionRefusedError(111, "refused"), StorageError),
    ],
)
def test_foreign_errors_map_onto_the_tree(error: Exception, expected: type[ReelforgeError]) -> None:
    translated = translate_error(error)
    assert type(translated) is expected


async def test_an_unreachable_database_is_a_storage_error() -> None:
    async with Catalog.from_url(UNREACHABLE) as catalog:
        with pytest.raises(StorageError):
            await catalog.assets.get("x")
    with pytest.raises(StorageError):
        await upgrade_database(UNREACHABLE)
    with pytest.raises(StorageError):
        await current_revision(UNREACHABLE)


async def test_an_unreachable_postgres_fails_the_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADMIN_URL_ENV, "postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(pytest.fail.Exception, match="RF_TEST_NO_POSTGRES=1"):
        async with postgres_database():
            pass
