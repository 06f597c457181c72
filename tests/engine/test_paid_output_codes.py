"""What a paid job that lost its outputs fails with: one of the documented generic codes,
picked by the cause, with the cause kept in the details; and which causes are worth
trying again at all."""

from __future__ import annotations

import pytest

from reelforge.engine.outcomes import StepError
from reelforge.engine.paid_outputs import is_transient_error, paid_failure
from reelforge.engine.retrying import is_paid_output_fault
from reelforge.errors import (
    CorruptMedia,
    FetchFailed,
    FetchRejected,
    MediaTooLarge,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    ReelforgeError,
    StorageError,
    UnsupportedMediaType,
    UrlNotAllowed,
)
from reelforge.providers.fal import FalError


@pytest.mark.parametrize(
    ("cause", "transient", "code"),
    [
        (FetchRejected("'cdn' answered HTTP 404.", details={"status": 404}), True, "unavailable"),
        (FetchFailed("'cdn' answered HTTP 503.", details={"status": 503}), True, "unavailable"),
        (
            FetchFailed("ended after 10 of 20 bytes", details={"truncated": True}),
            True,
            "unavailable",
        ),
        (FetchFailed("timed out (read timeout).", details={"timeout": "read"}), True, "timeout"),
        (ProviderTimeout("The result call timed out."), True, "timeout"),
        (ProviderUnavailable("fal answered 503."), True, "unavailable"),
        (ProviderRateLimited("fal answered 429."), True, "unavailable"),
        (CorruptMedia("The PNG is truncated."), True, "error"),
        (UnsupportedMediaType("Unrecognised content."), True, "error"),
        (FalError("fal refused the result call."), False, "error"),
        (UrlNotAllowed("The address is private.", details={"address": "10.0.0.1"}), False, "error"),
        (MediaTooLarge("The media is too large."), False, "error"),
        (StorageError("The store could not write."), False, "error"),
    ],
)
def test_the_code_follows_the_cause_and_keeps_it(
    cause: ReelforgeError, transient: bool, code: str
) -> None:
    assert is_paid_output_fault(cause) is transient
    error = StepError.of(cause, details=True)
    assert is_transient_error(error) is transient
    final = paid_failure(error, "ingest", 3, 12.5, transient)
    assert final.code == f"provider_{code}"
    assert not final.retryable
    assert final.details["cause"]["code"] == cause.code
    assert final.details["cause"].get("details", {}) == cause.details
    assert final.details | {"cause": None} == {
        "paid": True,
        "stage": "ingest",
        "tries": 3,
        "spent_s": 12.5,
        "cause": None,
    }
    assert final.message.startswith("The provider billed the generation, but its output")
    assert cause.message in final.message
    # The stored shape reads back the same.
    assert StepError.model_validate(final.checkpoint()) == final


def test_errors_without_details_keep_the_stored_shape() -> None:
    error = StepError.of(FetchRejected("no", details={"status": 404}))
    assert "details" not in error.checkpoint()
    assert error.details == {}
