"""The one error tree of Reelforge.

Every error that leaves a module is a :class:`ReelforgeError`. Each class knows its stable public
``code``, its HTTP status, whether it is transient (``retryable``), and may carry ``retry_after``
seconds. Messages are safe to show to a user; ``details`` holds structured, non-secret context.
Foreign exceptions (httpx, vendor SDKs, SQL drivers, codecs) are translated into this tree at the
boundary of the module that calls them and never escape it.

    ReelforgeError                        INTERNAL_ERROR        500
    ├── InvalidInput                      INVALID_INPUT         400
    │   ├── UnsupportedMediaType          UNSUPPORTED_MEDIA_TYPE 415
    │   ├── MediaTooLarge                 MEDIA_TOO_LARGE       413
    │   ├── CorruptMedia                  CORRUPT_MEDIA         422
    │   ├── UrlNotAllowed                 URL_NOT_ALLOWED       400
    │   └── NoFaceFound                   NO_FACE_DETECTED      422  (imaging/faces.py)
    ├── FetchFailed                       FETCH_FAILED          502  (retryable)
    │   └── FetchRejected                 FETCH_REJECTED        502
    ├── Unauthorized                      UNAUTHORIZED          401
    ├── NotFound                          NOT_FOUND             404
    ├── Conflict                          CONFLICT              409
    ├── ConfigurationError                CONFIGURATION_ERROR   500
    │   ├── MissingCredential             MISSING_CREDENTIAL    500
    │   ├── NotConfigured                 NOT_CONFIGURED        503  (nothing here can do it)
    │   ├── MissingModelFiles             MISSING_MODEL_FILES   500
    │   └── PublicUrlRequired             PUBLIC_URL_REQUIRED   500  (no address to hand out)
    ├── BudgetExhausted                   budget_exhausted      402
    ├── Timeout                           TIMEOUT               504  (a whole request ran too long)
    ├── StorageError                      STORAGE_ERROR         500
    │   └── CatalogBusy                   CATALOG_BUSY          503  (retryable, retry_after)
    ├── Interrupted                       INTERRUPTED           500  (recorded, never started)
    ├── WorkerFenced                      WORKER_FENCED         503  (this process lost its work)
    └── ProviderError                     provider_error        502
        ├── ProviderTimeout               provider_timeout      504  (retryable)
        ├── ProviderPending               provider_pending      202
        ├── ProviderRateLimited           provider_rate_limited 429  (retryable, retry_after)
        ├── ProviderUnavailable           provider_unavailable  503  (retryable)
        ├── ProviderRejectedInput         provider_invalid_input 400
        ├── ContentRejected               content_rejected      422
        └── one subclass per provider     <VENDOR>_ERROR        502  (in the provider's package)

A provider declares its own subclass in its package (``class AcmeError(ProviderError): code =
"ACME_ERROR"``) and names it as its adapter's ``error_class``, so a vendor failure carries the
vendor's code (the transform spec's ``<VENDOR>_ERROR``) while features that speak the generic
vocabulary (``provider_error``) use :attr:`ProviderError.generic_code`; the provider registry
knows every such code (``ProviderRegistry.generic_code``).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BudgetExhausted",
    "CatalogBusy",
    "ConfigurationError",
    "Conflict",
    "ContentRejected",
    "CorruptMedia",
    "FetchFailed",
    "FetchRejected",
    "Interrupted",
    "InvalidInput",
    "MediaTooLarge",
    "MissingCredential",
    "MissingModelFiles",
    "NotConfigured",
    "NotFound",
    "ProviderError",
    "ProviderPending",
    "ProviderRateLimited",
    "ProviderRejectedInput",
    "ProviderTimeout",
    "ProviderUnavailable",
    "PublicUrlRequired",
    "ReelforgeError",
    "StorageError",
    "Timeout",
    "Unauthorized",
    "UnsupportedMediaType",
    "UrlNotAllowed",
    "WorkerFenced",
]


class ReelforgeError(Exception):
    """Base of every error Reelforge raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after

    def to_payload(self) -> dict[str, Any]:
        """The public JSON shape used by every face: the transform spec's error envelope."""
        details = dict(self.details)
        if self.retry_after is not None:
            details.setdefault("retry_after", self.retry_after)
        return {
            "code": self.code,
            "message": self.message,
            "details": details,
            "statusCode": self.http_status,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInput(ReelforgeError):
    code = "INVALID_INPUT"
    http_status = 400


class UnsupportedMediaType(InvalidInput):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


class MediaTooLarge(InvalidInput):
    code = "MEDIA_TOO_LARGE"
    http_status = 413


class CorruptMedia(InvalidInput):
    code = "CORRUPT_MEDIA"
    http_status = 422


class UrlNotAllowed(InvalidInput):
    code = "URL_NOT_ALLOWED"
    http_status = 400


class FetchFailed(ReelforgeError):
    code = "FETCH_FAILED"
    http_status = 502
    retryable = True


class FetchRejected(FetchFailed):
    """The remote server refused the download (a 4xx) or redirected in circles: don't retry."""

    code = "FETCH_REJECTED"
    retryable = False


class Unauthorized(ReelforgeError):
    code = "UNAUTHORIZED"
    http_status = 401


class NotFound(ReelforgeError):
    code = "NOT_FOUND"
    http_status = 404


class Conflict(ReelforgeError):
    code = "CONFLICT"
    http_status = 409


class ConfigurationError(ReelforgeError):
    code = "CONFIGURATION_ERROR"
    http_status = 500


class MissingCredential(ConfigurationError):
    """A provider's key is not in the environment. The message names the variable, never a value."""

    code = "MISSING_CREDENTIAL"

    def __init__(self, provider: str, env_var: str, alternatives: tuple[str, ...] = ()) -> None:
        """``alternatives``: other variables the same key may be in (a spec's names)."""
        also = f" (or {', '.join(alternatives)})" if alternatives else ""
        details: dict[str, Any] = {"provider": provider, "env_var": env_var}
        if alternatives:
            details["alternatives"] = list(alternatives)
        super().__init__(
            f"Provider {provider!r} needs an API key: "
            f"set the environment variable {env_var}{also}.",
            details=details,
        )


class NotConfigured(ConfigurationError):
    """This deployment has nothing that can do what was asked (no provider configured for it,
    and the offline stand-in refused by its settings)."""

    code = "NOT_CONFIGURED"
    http_status = 503


class MissingModelFiles(ConfigurationError):
    code = "MISSING_MODEL_FILES"


class PublicUrlRequired(ConfigurationError):
    """A process would hand out URLs nothing serves (a bind-all address, or no server at all):
    ``public_url`` (``REELFORGE_PUBLIC_URL``) must say where clients reach the service."""

    code = "PUBLIC_URL_REQUIRED"


class BudgetExhausted(ReelforgeError):
    code = "budget_exhausted"
    http_status = 402


class Timeout(ReelforgeError):
    code = "TIMEOUT"
    http_status = 504


class StorageError(ReelforgeError):
    code = "STORAGE_ERROR"
    http_status = 500


class Interrupted(ReelforgeError):
    """Work a process recorded and then died before starting: it never ran, and never will
    (a restart ends it with this error)."""

    code = "INTERRUPTED"


class CatalogBusy(StorageError):
    """No catalog connection came free within the pool's bound: the database is busy, not
    broken, and nothing was read or written; try again after ``retry_after``."""

    code = "CATALOG_BUSY"
    http_status = 503
    retryable = True


class WorkerFenced(ReelforgeError):
    """This worker process was taken for dead and its work handed to another: it must not
    write or send anything more for that work (see :mod:`reelforge.engine.lease`)."""

    code = "WORKER_FENCED"
    http_status = 503


class ProviderError(ReelforgeError):
    """A provider failed. ``provider`` names the adapter; the vendor's raw text stays in details."""

    code = "provider_error"
    http_status = 502
    generic_code: ClassVar[str] = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        merged = dict(details or {})
        if provider is not None:
            merged.setdefault("provider", provider)
        super().__init__(message, details=merged, retry_after=retry_after)
        self.provider = provider


class ProviderTimeout(ProviderError):
    code = "provider_timeout"
    generic_code = "provider_timeout"
    http_status = 504
    retryable = True


class ProviderPending(ProviderError):
    """The provider has not finished within the wait cap; the job is still alive."""

    code = "provider_pending"
    generic_code = "provider_pending"
    http_status = 202


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    http_status = 429
    retryable = True


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    http_status = 503
    retryable = True


class ProviderRejectedInput(ProviderError):
    code = "provider_invalid_input"
    http_status = 400


class ContentRejected(ProviderError):
    code = "content_rejected"
    http_status = 422
