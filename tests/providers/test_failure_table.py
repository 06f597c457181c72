"""The shared failure table and the vendors' own rows: what an HTTP status, or a vendor's own
error code, becomes (class, hence retryability; Retry-After; the key's variable)."""

from __future__ import annotations

import httpx
import pytest

from reelforge.errors import (
    ContentRejected,
    ProviderError,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    Unauthorized,
)
from reelforge.providers.base import Provider, ProviderDeps
from reelforge.providers.character_library import CharacterLibraryError
from reelforge.providers.character_library.wire import FAILURES as LIBRARY
from reelforge.providers.google import GoogleProvider, GoogleSettings
from reelforge.providers.http import FailureTable, Outcome, VendorFailure
from reelforge.providers.local.studio import LocalStudio, LocalStudioSettings
from reelforge.providers.runway import RunwayError, RunwayProvider, RunwaySettings
from reelforge.providers.runway.wire import FAILURES as RUNWAY


class AcmeError(ProviderError):
    code = "ACME_ERROR"


ACME = FailureTable(
    "acme",
    "Acme",
    AcmeError,
    "ACME_KEY",
    by_kind={"nsfw": Outcome(ContentRejected, "{vendor} refused it.")},
)


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, ProviderRejectedInput, False),
        (401, AcmeError, False),
        (403, AcmeError, False),
        (404, AcmeError, False),
        (408, ProviderTimeout, True),
        (409, AcmeError, False),
        (422, ProviderRejectedInput, False),
        (429, ProviderRateLimited, True),
        (500, ProviderUnavailable, True),
        (502, ProviderUnavailable, True),
        (503, ProviderUnavailable, True),
        (504, ProviderTimeout, True),
    ],
)
def test_the_shared_rows(status: int, cls: type[ProviderError], retryable: bool) -> None:
    error = ACME.error("submit", VendorFailure("nope", status, retry_after=3.0))
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.provider == "acme"
    assert error.details["http_status"] == status
    assert error.details["operation"] == "submit"
    # The vendor's Retry-After rides along where waiting helps: 429 and 5xx (not 504).
    assert error.retry_after == (3.0 if status == 429 or status in (500, 502, 503) else None)
    if status in (401, 403):
        assert error.details["env_var"] == "ACME_KEY"
        assert "ACME_KEY" in error.message


def test_a_vendor_code_row_comes_first_and_a_report_without_status_is_the_vendors() -> None:
    flagged = ACME.error("status", VendorFailure("flagged", 429, kind="nsfw"))
    assert type(flagged) is ContentRejected
    assert type(ACME.error("status", VendorFailure("odd", kind="unknown"))) is AcmeError
    assert type(ACME.error("status", VendorFailure("odd"))) is AcmeError


def test_transport_errors_are_shared_too() -> None:
    assert type(ACME.transport("submit", httpx.ReadTimeout("t"))) is ProviderTimeout
    assert type(ACME.transport("submit", httpx.ConnectError("c"))) is ProviderUnavailable


def test_vendor_rows_override_the_shared_ones() -> None:
    # The library's 500 is its own error, never retried (its spec); Runway's 504 is load
    # shedding and its 422 its own error.
    library_500 = LIBRARY.error("reference", VendorFailure("boom", 500))
    assert (type(library_500), library_500.retryable) == (CharacterLibraryError, False)
    assert type(LIBRARY.error("reference", VendorFailure("slow", 504))) is ProviderTimeout
    assert type(LIBRARY.error("reference", VendorFailure("odd", 505))) is CharacterLibraryError
    assert type(RUNWAY.error("status", VendorFailure("shed", 504))) is ProviderUnavailable
    assert type(RUNWAY.error("status", VendorFailure("odd", 422))) is RunwayError


async def test_the_base_verify_webhook_refuses() -> None:
    async with httpx.AsyncClient() as http:
        deps = ProviderDeps(http=http, environ={})
        adapters: list[Provider] = [
            GoogleProvider(GoogleSettings(), deps),
            RunwayProvider(RunwaySettings(), deps),
            LocalStudio(LocalStudioSettings(), deps),
        ]
        for adapter in adapters:
            with pytest.raises(Unauthorized) as refused:
                await adapter.verify_webhook_async({}, b"{}")
            assert refused.value.details == {"provider": adapter.id, "reason": "no_verifier"}
            await adapter.aclose()
