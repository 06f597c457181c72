"""Schemathesis hooks for ``test_openapi_conformance`` (loaded by the ``st`` child through
``SCHEMATHESIS_HOOKS``): a request that may wait for work (``wait_s``, up to 300 s) is sent with
no wait, so work is answered as started and goes on in the server. Values that are not a wait
(the negative cases: text, out of range) are sent as generated, to be refused."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import Case
from schemathesis.hooks import HookContext

__all__ = ["before_call"]


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    wait = (case.query or {}).get("wait_s")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 < wait <= 300:
        case.query["wait_s"] = 0
