"""``reelforge costs --prices``: every built-in price names the vendor's page and a date a user
can check, with no research notes."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from reelforge.cli.app import app

_NOTES = re.compile(r"unconfirmed|reference|§|llms\.txt|upper bound", re.I)
_VENDOR_PAGES = {
    "fal": "https://fal.ai/models/",
    "google": "https://ai.google.dev/gemini-api/docs/pricing",
    "replicate": "https://replicate.com/",
    "runway": "https://docs.dev.runwayml.com/guides/pricing",
}


pytestmark = pytest.mark.usefixtures("restored_logging")


def test_built_in_prices_name_the_vendors_page_and_its_date() -> None:
    result = CliRunner().invoke(app, ["costs", "--prices", "--json"])
    assert result.exit_code == 0, result.output
    built_in = [p for p in json.loads(result.stdout)["prices"] if p["origin"] == "built-in"]
    assert {p["provider"] for p in built_in} >= set(_VENDOR_PAGES)
    for price in built_in:
        assert not _NOTES.search(price["source"]), price
        page = _VENDOR_PAGES.get(price["provider"])
        if page is not None:
            assert page in price["source"], price
            assert price["as_of"] or "undated" in price["source"], price
