"""The faults the emulator can inject: their kinds, the families that consume them, and rules.

A fault rule (:class:`FaultRule`) matches calls by provider and operation (``"*"`` matches any)
and fires ``count`` times (``null``: every time). Kinds come in five families, each consumed at a
different point:

- **http**, when an API call arrives (``submit``, ``status``, ``result``, ``cancel``, ``run``...):
  ``http_500``, ``http_503``, ``http_429`` (with ``retry_after``), ``http_401``, ``hang`` (hold
  the response past the client's timeout, ``delay_s`` or the config's ``hang_s``),
  ``malformed_json`` (a 200 whose body is cut-off JSON), ``invalid_input``, ``content_rejected``.
- **accept**, after an accept call has been served in full (a provider's submit, and every
  synchronous generate call: each emulated provider names its own in ``accept_operations``):
  ``hold_accept``. The job exists, runs and is billed as usual (a synchronous call has generated
  and billed), then the answer is held ``delay_s`` seconds (default: the config's ``hang_s``), or
  until the client goes away. A kill during the hold is a kill in the submit window. The rule's
  operation is ``"*"``, the accept call's own name, or ``submit``, which stands for every accept
  call of the provider (Google's ``generate_content``, the Character Library's
  ``reference_image``...). Only an answer that accepted the job is held (an error answer is sent
  at once and the rule stays armed).
- **job**, when a queued generation finishes (operation ``generate``): ``content_rejected``,
  ``failed``.
- **webhook**, when a callback is sent (operation ``webhook``): ``lost``, ``duplicated``,
  ``delayed`` (``delay_s``), ``out_of_order`` (held until the next callback is sent, at most
  ``delay_s``), ``bad_signature``, ``stale_timestamp`` (``stale_by_s`` in the past).
- **file**, when an output URL is fetched (operation ``file``; the provider is the one whose job
  made the file): ``http_404`` (the URL answers 404), ``truncated`` (a 200 announcing the whole
  ``Content-Length``, closed after the first half of the body), ``short`` (a complete 200 whose
  body is only the first half of the file). ``http_500`` and ``http_503`` also hit files, but
  only from a rule that names operation ``file`` (so a rule for any operation keeps to the API).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ACCEPT_ALIAS", "ANY", "FILE_OPERATION", "FaultFamily", "FaultKind", "FaultRule"]

ANY = "*"
#: The operation name a hold_accept rule may use for every accept call of its provider.
ACCEPT_ALIAS = "submit"
#: The operation of the output-file route.
FILE_OPERATION = "file"


class FaultFamily(StrEnum):
    HTTP = "http"
    ACCEPT = "accept"
    JOB = "job"
    WEBHOOK = "webhook"
    FILE = "file"


class FaultKind(StrEnum):
    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    HTTP_429 = "http_429"
    HTTP_401 = "http_401"
    HTTP_404 = "http_404"
    HANG = "hang"
    MALFORMED_JSON = "malformed_json"
    INVALID_INPUT = "invalid_input"
    CONTENT_REJECTED = "content_rejected"
    HOLD_ACCEPT = "hold_accept"
    FAILED = "failed"
    LOST = "lost"
    DUPLICATED = "duplicated"
    DELAYED = "delayed"
    OUT_OF_ORDER = "out_of_order"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    TRUNCATED = "truncated"
    SHORT = "short"

    @property
    def families(self) -> frozenset[FaultFamily]:
        return _FAMILIES[self]


_HTTP = frozenset({FaultFamily.HTTP})
_HTTP_OR_FILE = frozenset({FaultFamily.HTTP, FaultFamily.FILE})
_FILE = frozenset({FaultFamily.FILE})
_WEBHOOK = frozenset({FaultFamily.WEBHOOK})
_FAMILIES: dict[FaultKind, frozenset[FaultFamily]] = {
    FaultKind.HTTP_500: _HTTP_OR_FILE,
    FaultKind.HTTP_503: _HTTP_OR_FILE,
    FaultKind.HTTP_429: _HTTP,
    FaultKind.HTTP_401: _HTTP,
    FaultKind.HTTP_404: _FILE,
    FaultKind.HANG: _HTTP,
    FaultKind.MALFORMED_JSON: _HTTP,
    FaultKind.INVALID_INPUT: _HTTP,
    FaultKind.CONTENT_REJECTED: frozenset({FaultFamily.HTTP, FaultFamily.JOB}),
    FaultKind.HOLD_ACCEPT: frozenset({FaultFamily.ACCEPT}),
    FaultKind.FAILED: frozenset({FaultFamily.JOB}),
    FaultKind.LOST: _WEBHOOK,
    FaultKind.DUPLICATED: _WEBHOOK,
    FaultKind.DELAYED: _WEBHOOK,
    FaultKind.OUT_OF_ORDER: _WEBHOOK,
    FaultKind.BAD_SIGNATURE: _WEBHOOK,
    FaultKind.STALE_TIMESTAMP: _WEBHOOK,
    FaultKind.TRUNCATED: _FILE,
    FaultKind.SHORT: _FILE,
}
# Operations reserved for one family: a rule naming one must be of a kind that family consumes.
_RESERVED = {
    "generate": FaultFamily.JOB,
    "webhook": FaultFamily.WEBHOOK,
    FILE_OPERATION: FaultFamily.FILE,
}


class FaultRule(BaseModel):
    """One injected fault: which calls it hits, what happens, how many times."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = ANY
    operation: str = ANY
    kind: FaultKind
    count: int | None = Field(default=1, ge=1, description="How many times; null: always")
    retry_after: float = Field(default=1.0, ge=0, description="http_429: Retry-After seconds")
    delay_s: float | None = Field(
        default=None,
        ge=0,
        description="delayed / out_of_order webhooks; hang and hold_accept: hold time",
    )
    stale_by_s: float = Field(default=3600.0, gt=0, description="stale_timestamp: age")

    @model_validator(mode="after")
    def _operation_fits_kind(self) -> FaultRule:
        family = _RESERVED.get(self.operation)
        if family is not None and family not in self.kind.families:
            raise ValueError(f"{self.kind} cannot happen to operation {self.operation!r}")
        if self.kind.families == _FILE and self.operation not in (ANY, FILE_OPERATION):
            raise ValueError(f"{self.kind} happens only to operation {FILE_OPERATION!r}")
        return self

    def matches(self, provider: str, operation: str, family: FaultFamily) -> bool:
        if family not in self.kind.families or self.provider not in (ANY, provider):
            return False
        if family is FaultFamily.FILE:
            # A kind that also hits API calls reaches files only when the rule says so.
            return self.operation == FILE_OPERATION or (
                self.operation == ANY and self.kind.families == _FILE
            )
        if family is FaultFamily.ACCEPT:
            return self.operation in (ANY, ACCEPT_ALIAS, operation)
        return self.operation in (ANY, operation)
