"""The packages ``reelforge --help`` and ``reelforge version`` must not load (see the package
docstring): web framework, ORM, job engine, database drivers and media libraries. Read by
``tests/cli/test_start_up.py`` and ``bench/cli_start.py``."""

from __future__ import annotations

__all__ = ["HEAVY_PACKAGES"]

HEAVY_PACKAGES = frozenset(
    {
        "fastapi",
        "starlette",
        "uvicorn",
        "sse_starlette",
        "mcp",
        "mcp_types",
        "sqlalchemy",
        "alembic",
        "dbos",
        "asyncpg",
        "psycopg",
        "aiosqlite",
        "cv2",
        "av",
        "numpy",
        "PIL",
        "dlib",
        "face_recognition",
        "opentelemetry",
    }
)
