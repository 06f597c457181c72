"""The HTTP plumbing the hosted adapters share: Retry-After, transport errors, JSON, sending."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import structlog

from reelforge.errors import (
    ConfigurationError,
    ProviderError,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)
from reelforge.providers.character_library import character_library_error
from reelforge.providers.fal import FalError, fal_error
from reelforge.providers.google import google_error
from reelforge.providers.http import (
    ProviderHttp,
    decode_json,
    invalid_url,
    json_object,
    parse_retry_after,
    transport_error,
)
from reelforge.providers.leonardo import leonardo_error
from reelforge.providers.replicate.wire import replicate_error
from reelforge.providers.runway.wire import runway_error

# -- Retry-After -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("4", 4.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_and_past_dates(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_reads_a_future_date_as_the_seconds_left() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    delay = parse_retry_after(later)
    assert delay is not None
    assert 100 < delay <= 120


# -- transport errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("t"), httpx.ConnectTimeout("t"), httpx.PoolTimeout("t")]
)
def test_a_transport_timeout_is_a_provider_timeout(exc: httpx.HTTPError) -> None:
    error = transport_error("fal", "fal", "submit", exc)
    assert type(error) is ProviderTimeout
    assert error.message == "fal did not answer in time (submit)."
    assert error.provider == "fal"
    # A connect timeout sent nothing: the engine must know a failed submit was never accepted.
    not_sent = {"reason": "not_connected"} if isinstance(exc, httpx.ConnectTimeout) else {}
    assert error.details == {"operation": "submit", "provider": "fal"} | not_sent


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("c"), httpx.RemoteProtocolError("r"), httpx.ReadError("r")]
)
def test_any_other_transport_error_is_unavailable(exc: httpx.HTTPError) -> None:
    error = transport_error("runway", "Runway", "status", exc)
    assert type(error) is ProviderUnavailable
    assert error.message == f"Runway could not be reached (status): {type(exc).__name__}."
    not_sent = {"reason": "not_connected"} if isinstance(exc, httpx.ConnectError) else {}
    assert error.details == {"operation": "status", "provider": "runway"} | not_sent
    assert error.retry_after is None


Table = Callable[[str, Any], ProviderError]


@pytest.mark.parametrize(
    ("table", "provider", "vendor"),
    [
        (fal_error, "fal", "fal"),
        (replicate_error, "replicate", "Replicate"),
        (runway_error, "runway", "Runway"),
        (google_error, "google", "Google"),
        (leonardo_error, "leonardo", "Leonardo"),
        (character_library_error, "character_library", "The Character Library"),
    ],
)
def test_every_vendor_table_reads_transport_errors_the_same_way(
    table: Table, provider: str, vendor: str
) -> None:
    timeout = table("op", httpx.ReadTimeout("t"))
    assert type(timeout) is ProviderTimeout
    assert timeout.message == f"{vendor} did not answer in time (op)."
    unreachable = table("op", httpx.ConnectError("c"))
    assert type(unreachable) is ProviderUnavailable
    assert unreachable.message == f"{vendor} could not be reached (op): ConnectError."
    assert unreachable.details == {
        "operation": "op",
        "provider": provider,
        "reason": "not_connected",
    }


# -- bodies ----------------------------------------------------------------------------------


def not_json() -> ProviderError:
    return FalError("not JSON", provider="fal")


def test_decode_json_reads_any_json_value() -> None:
    assert decode_json(b'{"a": [1, 2]}', not_json) == {"a": [1, 2]}
    assert decode_json(b"[]", not_json) == []


@pytest.mark.parametrize("content", [b"", b"<html>", b"{", b"\xff\xfe\x00"])
def test_decode_json_raises_the_vendor_error_without_the_json_one(content: bytes) -> None:
    with pytest.raises(FalError, match="not JSON") as raised:
        decode_json(content, not_json)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"error": "no"}', {"error": "no"}),
        (b"[1]", None),
        (b'"text"', None),
        (b"", None),
        (b"Bad Gateway", None),
    ],
)
def test_json_object_is_an_object_body_or_none(
    content: bytes, expected: dict[str, Any] | None
) -> None:
    assert json_object(httpx.Response(502, content=content)) == expected


def test_invalid_url_names_the_operation_and_the_settings() -> None:
    error = invalid_url("fal", "fal", "check the providers.fal settings")("submit")
    assert type(error) is ConfigurationError
    assert error.message == "A fal URL is invalid (submit): check the providers.fal settings."
    assert error.details == {"provider": "fal", "operation": "submit"}


# -- sending ---------------------------------------------------------------------------------


def table(operation: str, source: httpx.Response | httpx.HTTPError) -> ProviderError:
    """A small vendor table: transport errors shared, any error answer refused input."""
    if isinstance(source, httpx.HTTPError):
        return transport_error("bolt", "Bolt", operation, source)
    return ProviderRejectedInput(
        f"Bolt refused ({operation}, HTTP {source.status_code}).",
        provider="bolt",
        details={"operation": operation, "http_status": source.status_code},
    )


BOLT = ProviderHttp("bolt", table, invalid_url("bolt", "Bolt", "check providers.bolt.base_url"))


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_send_passes_the_request_through_and_returns_the_answer() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "r1"})

    async with client(answer) as http:
        response = await BOLT.send(
            http,
            "submit",
            "POST",
            "https://bolt.test/v1/jobs",
            headers={"Authorization": "Key k"},
            timeout_s=7.5,
            json={"prompt": "a fox"},
            params={"logs": "1"},
        )
    assert response.status_code == 201
    assert response.json() == {"id": "r1"}
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://bolt.test/v1/jobs?logs=1"
    assert request.headers["Authorization"] == "Key k"
    assert json.loads(request.content) == {"prompt": "a fox"}
    assert request.extensions["timeout"] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}


async def test_send_translates_and_logs_an_error_answer() -> None:
    async with client(lambda _request: httpx.Response(422, json={"detail": "no"})) as http:
        with structlog.testing.capture_logs() as events, pytest.raises(ProviderRejectedInput) as e:
            await BOLT.send(http, "submit", "POST", "https://bolt.test/", headers={}, timeout_s=1)
    assert e.value.message == "Bolt refused (submit, HTTP 422)."
    assert e.value.__cause__ is None
    assert events == [
        {
            "event": "bolt.call.failed",
            "log_level": "warning",
            "operation": "submit",
            "status": 422,
            "code": ProviderRejectedInput.code,
        }
    ]


async def test_send_translates_a_transport_error_without_logging() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(refuse) as http:
        with structlog.testing.capture_logs() as events, pytest.raises(ProviderUnavailable) as e:
            await BOLT.send(http, "status", "GET", "https://bolt.test/", headers={}, timeout_s=1)
    assert e.value.message == "Bolt could not be reached (status): ConnectError."
    assert e.value.__cause__ is None
    assert e.value.__suppress_context__
    assert events == []


async def test_send_reads_an_invalid_url_as_a_configuration_error() -> None:
    async with client(lambda _request: httpx.Response(200)) as http:
        with pytest.raises(ConfigurationError) as e:
            await BOLT.send(http, "submit", "GET", "http://[::1", headers={}, timeout_s=1)
    assert e.value.message == "A Bolt URL is invalid (submit): check providers.bolt.base_url."
    assert e.value.__suppress_context__
