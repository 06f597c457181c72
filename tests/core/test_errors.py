"""The error tree: stable codes, HTTP statuses, retryability, and the public envelope."""

from __future__ import annotations

import pytest

from reelforge import errors
from reelforge.errors import (
    BudgetExhausted,
    InvalidInput,
    MissingCredential,
    ProviderError,
    ProviderPending,
    ProviderRateLimited,
    ProviderTimeout,
    ReelforgeError,
    Timeout,
)
from reelforge.providers.base import Provider
from reelforge.providers.replicate import ReplicateError, ReplicateProvider


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (InvalidInput, "INVALID_INPUT", 400),
        (Timeout, "TIMEOUT", 504),
        (ProviderTimeout, "provider_timeout", 504),
        (ProviderError, "provider_error", 502),
        (ProviderPending, "provider_pending", 202),
        (BudgetExhausted, "budget_exhausted", 402),
        (ReplicateError, "REPLICATE_ERROR", 502),
    ],
)
def test_the_specs_codes_exist(cls: type[ReelforgeError], code: str, status: int) -> None:
    assert cls.code == code
    assert cls.http_status == status


def test_every_error_class_has_a_unique_code() -> None:
    classes = [
        getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)
    ]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    assert all(issubclass(cls, ReelforgeError) for cls in classes)


def test_transient_errors_carry_retry_after_into_the_envelope() -> None:
    error = ProviderRateLimited("Slow down.", provider="fal", retry_after=7.0)
    assert error.retryable
    payload = error.to_payload()
    assert payload == {
        "code": "provider_rate_limited",
        "message": "Slow down.",
        "details": {"provider": "fal", "retry_after": 7.0},
        "statusCode": 429,
    }
    assert not InvalidInput("x").retryable


def test_vendor_errors_keep_the_generic_code() -> None:
    error = ReplicateProvider.error("Image transformation failed")
    assert isinstance(error, ReplicateError)
    assert error.code == "REPLICATE_ERROR"
    assert error.generic_code == "provider_error"
    # A provider that declares no class of its own speaks the generic code.
    assert Provider.error_class("x", provider="unknown-vendor").code == "provider_error"


def test_missing_credential_names_the_variable_only() -> None:
    error = MissingCredential("fal", "FAL_KEY")
    assert "FAL_KEY" in error.message
    assert error.details == {"provider": "fal", "env_var": "FAL_KEY"}
