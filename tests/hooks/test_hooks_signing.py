"""The signer: the package's signature under the environment's secret, and clear errors that
name the variable and never show its value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from hooks.hooks_support import SECRET
from reelforge.engine.hooks.signing import HookSigner
from reelforge.errors import ConfigurationError

AT = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


def test_headers_are_the_packages_signature_under_the_named_secret() -> None:
    headers = HookSigner("HOOKS_SECRET", {"HOOKS_SECRET": SECRET}).headers("d-1", AT, b"{}")
    assert headers["webhook-id"] == "d-1"
    assert headers["webhook-timestamp"] == str(int(AT.timestamp()))
    assert headers["webhook-signature"] == Webhook(SECRET).sign("d-1", AT, b"{}")


@pytest.mark.parametrize("value", [None, "", "whsec_not base64!"])
def test_a_missing_or_malformed_secret_names_its_variable_only(value: str | None) -> None:
    environ = {} if value is None else {"HOOKS_SECRET": value}
    with pytest.raises(ConfigurationError) as raised:
        HookSigner("HOOKS_SECRET", environ).headers("d-1", AT, b"{}")
    assert "HOOKS_SECRET" in raised.value.message
    if value:
        assert value not in raised.value.message
        assert value not in str(raised.value.details)
