"""The ``engine`` settings, the mode and role rules, the policies, and the one-process lock."""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from fixtures import emulator as emulator_fixtures
from fixtures.engine import engine_env, engine_settings, open_engine_harness
from reelforge.emulator import EmulatorServer
from reelforge.engine.config import EngineSettings, default_executor_id
from reelforge.engine.lock import SingleProcessLock
from reelforge.engine.runtime import who_runs_work
from reelforge.engine.specs import RetryPolicy, WaitPolicy
from reelforge.engine.versioning import WORKFLOW_COMPAT_VERSION
from reelforge.errors import ConfigurationError
from reelforge.services import build_services
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server

PG = "postgresql+asyncpg://reelforge@db.internal:5432/reelforge"


def test_the_default_is_embedded_with_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    url = settings.engine.resolved_system_database_url(
        settings.data_dir, settings.effective_database_url
    )
    assert url == f"sqlite:///{(tmp_path / 'data' / 'engine.sqlite').resolve()}"
    assert settings.engine.mode_for(url) == "embedded"


def test_a_postgresql_catalog_means_scale_out_on_the_same_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=PG)
    url = settings.engine.resolved_system_database_url(tmp_path, settings.effective_database_url)
    assert url == "postgresql://reelforge@db.internal:5432/reelforge"
    assert settings.engine.mode_for(url) == "scale_out"
    own = EngineSettings(system_database_url="sqlite:///x/engine.sqlite")
    assert own.resolved_system_database_url(tmp_path, PG).startswith("sqlite:///")


@pytest.mark.parametrize("url", ["mysql://db/x", "sqlite://", "not a url"])
def test_unusable_system_database_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigurationError):
        EngineSettings(system_database_url=url).resolved_system_database_url(tmp_path, PG)


def test_queue_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELFORGE_ENGINE__QUEUES__FAL__CONCURRENCY", "3")
    monkeypatch.setenv("REELFORGE_ENGINE__QUEUES__FAL__RATE_LIMIT", "10")
    monkeypatch.setenv("REELFORGE_ENGINE__DEFAULT_QUEUE__CONCURRENCY", "5")
    engine = Settings().engine
    fal = engine.limits_for("fal")
    assert (fal.concurrency, fal.rate_limit, fal.rate_period_s) == (3, 10, 1.0)
    assert engine.limits_for("runway").concurrency == 5


def test_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValidationError):
        EngineSettings(heartbeat_s=2.0, stale_after_s=3.0)
    with pytest.raises(ValidationError):
        EngineSettings(executor_id="two words")
    with pytest.raises(ValidationError):
        WaitPolicy(cap_s=10, give_up_after_s=5)


def test_executor_ids_are_stable_for_workers_and_unique_otherwise() -> None:
    host = socket.gethostname()
    assert default_executor_id("worker", True, 42) == host
    assert default_executor_id("api", False, 42) == f"api-{host}-42"


@pytest.mark.parametrize(
    ("database_url", "role", "api_executes", "executes"),
    [
        (None, "api", None, True),
        (PG, "api", None, False),
        (PG, "api", True, True),
        (PG, "worker", None, True),
        (None, "client", None, False),
    ],
)
def test_who_runs_work(
    tmp_path: Path, database_url: str | None, role: str, api_executes: bool | None, executes: bool
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        engine={"api_executes": api_executes, "executor_id": "w-7"},
    )
    engine = build_services(settings, environ={}).engine.engine
    runs_work, executor_id = who_runs_work(settings.engine, engine.mode, role)  # type: ignore[arg-type]
    assert runs_work is executes
    assert (executor_id == "w-7") is executes


def test_workflows_carry_the_compatibility_version_unless_one_is_pinned(tmp_path: Path) -> None:
    stamped = build_services(Settings(data_dir=tmp_path), environ={}).engine.engine
    assert stamped.application_version == WORKFLOW_COMPAT_VERSION
    pinned = Settings(data_dir=tmp_path, engine={"application_version": "fleet-7"})
    assert build_services(pinned, environ={}).engine.engine.application_version == "fleet-7"


def test_backoff_grows_and_respects_retry_after() -> None:
    policy = RetryPolicy(max_retries=2, backoff_s=1.0, backoff_factor=2.0, max_backoff_s=3.0)
    assert [policy.delay_s(n) for n in (1, 2, 3)] == [1.0, 2.0, 3.0]
    assert policy.delay_s(1, retry_after=2.5) == 2.5


def test_the_lock_admits_one_holder(tmp_path: Path) -> None:
    first = SingleProcessLock(tmp_path / "engine.lock")
    first.acquire()
    second = SingleProcessLock(tmp_path / "engine.lock")
    with pytest.raises(ConfigurationError, match="system_database_url") as refused:
        second.acquire()
    assert "pid" in refused.value.details["holder"]
    first.release()
    second.acquire()
    second.release()


async def test_a_second_process_on_an_embedded_data_directory_is_refused(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False):
        second = subprocess.run(
            [sys.executable, "-m", "reelforge", "worker"],
            env=engine_env(settings),
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert second.returncode == 1
    message = second.stderr.decode()
    assert "CONFIGURATION_ERROR" in message
    assert "embedded" in message


@pytest.mark.parametrize(
    "module",
    [
        "reelforge.engine.config",
        "reelforge.engine.specs",
        "reelforge.engine.outcomes",
        "reelforge.engine.states",
        "reelforge.engine.runtime",
        "reelforge.engine.service",
        "reelforge.engine.workflows",
        "reelforge.api.runs",
        "reelforge.engine.webhooks",
        "reelforge.engine.reaper",
        "reelforge.engine.events",
        "reelforge.engine.versioning",
        "reelforge.engine.adoption",
    ],
)
def test_every_exported_name_exists(module: str) -> None:
    loaded = importlib.import_module(module)
    assert all(hasattr(loaded, name) for name in loaded.__all__)
