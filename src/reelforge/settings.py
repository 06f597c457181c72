"""Root settings: ``reelforge.toml`` in the working directory, then ``REELFORGE_*`` variables.

Nested fields use ``__`` in variable names (``REELFORGE_STORE__KIND=s3``). Provider settings are
not declared here: each adapter owns a settings model, and the raw ``providers.<id>`` table is
validated against it when the provider is built (``REELFORGE_PROVIDERS__FAL__BASE_URL``).
Secrets never live in settings files: credentials are named by environment variable.

``public_url`` (``REELFORGE_PUBLIC_URL``, or ``SITE_URL``) is where clients reach this service:
media URLs, provider webhooks and page links all start with it. Unset, the server's own address
stands in: right on a loopback or a named address, wrong where clients cannot go (a bind-all
address, port 0, or a process that serves no HTTP: ``reelforge mcp`` over stdio), which
:func:`require_public_url` refuses at start-up, naming the setting.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from reelforge.budget.config import BudgetSettings
from reelforge.engine.config import EngineSettings
from reelforge.errors import PublicUrlRequired
from reelforge.features.characters.config import CharacterSettings
from reelforge.features.cutscenes.config import CutsceneSettings
from reelforge.features.keyframes.config import KeyframesSettings
from reelforge.features.segments.config import SegmentSettings
from reelforge.features.transform.config import TransformSettings
from reelforge.prompts.config import PromptSettings

__all__ = [
    "AuthSettings",
    "BudgetSettings",
    "CatalogSettings",
    "EngineSettings",
    "Face",
    "IngestSettings",
    "S3Settings",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "TracingSettings",
    "is_unspecified",
    "public_base",
    "require_public_url",
]

SETTINGS_FILE = "reelforge.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class S3Settings(_Section):
    """An S3-compatible bucket (AWS, R2, MinIO, moto). Keys are read from the named variables."""

    endpoint: str | None = None
    bucket: str = "reelforge"
    region: str = "us-east-1"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 - a variable name, not a secret
    allow_http: bool = False


class StoreSettings(_Section):
    kind: Literal["local", "s3"] = "local"
    root: Path | None = Field(
        default=None, description="Local store folder; default data_dir/media"
    )
    public_base_url: str | None = Field(
        default=None,
        description="Where media is served from when not by this service (a CDN, the "
        "bucket's own host); default {public_url}/media",
    )
    s3: S3Settings = S3Settings()


class IngestSettings(_Section):
    max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    total_timeout_s: float = Field(default=600.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host:port entries ('127.0.0.1:8910', '[::1]:8910') that may be "
        "loopback/private addresses; a bare host or 'host:*' opens every port of it",
    )
    max_image_pixels: int = Field(default=64_000_000, gt=0)
    temp_dir: Path | None = Field(
        default=None,
        description="Where downloads are spooled; default data_dir/tmp (keep it on "
        "the local store's disk so stored files are linked, not copied)",
    )
    thumbnail_px: int = Field(default=320, gt=16)
    probe_concurrency: int = Field(
        default=2, ge=1, description="Media probes (decoding for checks and thumbnails) at once"
    )
    probe_memory_mb: int = Field(
        default=320,
        ge=32,
        description="Estimated decode memory the probes of one process may take together; "
        "an image that alone needs more is refused (MEDIA_TOO_LARGE)",
    )


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    health_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="A port (on host) where GET /healthz is answered on a thread of its own, "
        "never queued behind API requests: for liveness probes. It answers 503 when the API's "
        "event loop has not run for health_stall_s",
    )
    health_stall_s: float = Field(
        default=10.0,
        gt=0,
        description="How long the event loop may not run before health_port answers 503",
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description="Largest request body of a JSON or form route; routes that take media "
        "allow their media's limit instead",
    )


class CatalogSettings(_Section):
    """The catalog database's connections, per process (the API's, and each worker's)."""

    pool_size: int = Field(
        default=10,
        ge=1,
        description="Connections a process keeps to the catalog database; its catalog "
        "transactions take turns for them, first come, first served",
    )
    pool_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="How long a request may wait for a catalog connection before it is "
        "answered CATALOG_BUSY (503, with Retry-After)",
    )


class AuthSettings(_Section):
    """Bearer tokens for the API. Turning auth off is explicit (the offline demo does)."""

    enabled: bool = True
    tokens: list[SecretStr] = Field(default_factory=list)


class TracingSettings(_Section):
    """Where OpenTelemetry spans go (docs/tracing.md). Unset, the standard
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is read; with
    none of them, no span is recorded or sent (trace ids still reach runs, jobs and logs)."""

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces",
    )
    service_name: str = Field(
        default="reelforge", min_length=1, description="The service.name of every span"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REELFORGE_",
        env_nested_delimiter="__",
        toml_file=SETTINGS_FILE,
        extra="forbid",
        populate_by_name=True,
    )

    public_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REELFORGE_PUBLIC_URL", "SITE_URL"),
        description="The public base URL of this service (https://studio.example.com, or "
        "behind a proxy with a path prefix); media URLs, webhook callbacks and page links "
        "start with it. Unset: http://{server.host}:{server.port}, which start-up allows "
        "only for an address a client can reach",
    )
    data_dir: Path = Path("reelforge-data")
    database_url: str | None = None
    default_provider: str = "local"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = False
    server: ServerSettings = ServerSettings()
    catalog: CatalogSettings = CatalogSettings()
    auth: AuthSettings = AuthSettings()
    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()
    engine: EngineSettings = EngineSettings()
    budget: BudgetSettings = BudgetSettings()
    prompts: PromptSettings = PromptSettings()
    keyframes: KeyframesSettings = KeyframesSettings()
    characters: CharacterSettings = CharacterSettings()
    segments: SegmentSettings = SegmentSettings()
    cutscenes: CutsceneSettings = CutsceneSettings()
    transform: TransformSettings = TransformSettings()
    tracing: TracingSettings = TracingSettings()
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return public_base(value)

    @field_validator("providers", mode="before")
    @classmethod
    def _lowercase_provider_ids(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k).lower(): v for k, v in value.items()}
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'reelforge.db').resolve()}"

    @property
    def media_root(self) -> Path:
        return (self.store.root or self.data_dir / "media").resolve()

    @property
    def ingest_temp_dir(self) -> Path:
        return (self.ingest.temp_dir or self.data_dir / "tmp").resolve()

    @property
    def service_url(self) -> str:
        """Where clients reach this service: ``public_url``, else the server's bind address."""
        if self.public_url is not None:
            return self.public_url
        host = self.server.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server.port}"

    @property
    def public_base_url(self) -> str:
        """The base of media URLs: ``store.public_base_url``, else ``/media`` of the service."""
        base = self.store.public_base_url
        if base is None:
            base = f"{self.service_url}/media"
        return base.rstrip("/")

    @property
    def webhook_base_url(self) -> str | None:
        """Where providers call back: only a ``public_url`` that was set (unset: polling)."""
        return self.public_url

    def provider_section(self, provider_id: str) -> dict[str, Any]:
        """The raw ``providers.<id>`` table; the provider validates it against its own model."""
        return dict(self.providers.get(provider_id, {}))


def public_base(value: str) -> str:
    """``value`` as a public base URL (no trailing slash), or ValueError saying what is wrong."""
    text = value.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must be a base URL: no query, fragment or user")
    if is_unspecified(parts.hostname):
        raise ValueError(f"{parts.hostname} is a bind-all address, which no client can reach")
    return text


def is_unspecified(host: str) -> bool:
    """Whether ``host`` is a bind-all address (``0.0.0.0``, ``::``), which no client reaches."""
    if not host.strip("[]"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


#: The processes that hand URLs out: the API server, a worker, the stdio MCP server.
Face = Literal["serve", "worker", "mcp"]

_SETTING = "public_url"
_VARIABLES = ("REELFORGE_PUBLIC_URL", "SITE_URL")
_HOW = (
    "set REELFORGE_PUBLIC_URL (or SITE_URL; public_url in reelforge.toml) to the address "
    "clients use, e.g. https://studio.example.com"
)


def require_public_url(settings: Settings, face: Face) -> str:
    """The base URL ``face`` hands out, or :class:`PublicUrlRequired` saying what to set."""
    if settings.public_url is not None:
        return settings.public_url
    details = {"setting": _SETTING, "variables": list(_VARIABLES), "face": face}
    if face == "mcp":
        raise PublicUrlRequired(
            "reelforge mcp serves no HTTP, so the media and run URLs its tools answer would "
            f"point at nothing: {_HOW}, where reelforge serve answers for the same data.",
            details=details,
        )
    server = settings.server
    if is_unspecified(server.host):
        raise PublicUrlRequired(
            f"server.host {server.host or '(empty)'} listens on every address and is none a "
            f"client can open, so no URL can be made from it: {_HOW}.",
            details=details | {"host": server.host},
        )
    if server.port == 0:
        raise PublicUrlRequired(
            f"server.port 0 picks a port at random, so URLs cannot be made from it: {_HOW}.",
            details=details | {"port": 0},
        )
    return settings.service_url
