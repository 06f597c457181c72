"""Step results as DBOS checkpoints them: the typed results read what earlier releases stored,
so a run in flight across an upgrade resumes, and what is stored now stays plain JSON.

The ``PREVIOUS_*`` shapes are what the release before typed results returned from each step
(``reelforge.engine.operations`` returned these dicts); a release before that one returned the
bare status from the record and fail steps."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from reelforge.engine.outcomes import (
    Ended,
    Failure,
    Fetched,
    InDoubt,
    Ingested,
    JobEnd,
    OutputRef,
    ProviderReport,
    ResultMetadata,
    StepError,
    Submission,
    Submitted,
    fetch_outcome,
    ingest_outcome,
    inline_outcome,
    job_end,
    provider_report,
    submit_outcome,
)
from reelforge.engine.states import state_payload
from reelforge.errors import ProviderRateLimited
from reelforge.providers.base import (
    Canceled,
    GenerationMetadata,
    JobHandle,
    OutputMedia,
    Queued,
    Running,
    Succeeded,
)

HANDLE: dict[str, Any] = {
    "provider": "fal",
    "request_id": "req-1",
    "model": "fal-ai/flux/schnell",
    "urls": {"status_url": "https://queue.fal.run/req-1/status"},
}
ERROR = {
    "code": "provider_rate_limited",
    "message": "Slow down.",
    "retryable": True,
    "retry_after": 2.5,
}
METADATA = {
    "model": "fal-ai/flux/schnell",
    "seed": 7,
    "steps": 4,
    "inference_time_ms": 640,
    "extra": {"timings": {"inference": 0.64}},
}
PREVIOUS_SUBMITTED = {
    "attempt": 2,
    "handle": HANDLE,
    "reservation_id": "res-1",
    "estimate_usd": "0.003",
    "outcome": "submitted",
    "at": 1_800_000_000.25,
}
PREVIOUS_URL_OUTPUTS = [{"index": 0, "url": "https://cdn.example/0.png"}]


def test_submit_results_of_the_previous_release() -> None:
    submitted = submit_outcome(PREVIOUS_SUBMITTED)
    assert isinstance(submitted, Submitted)
    assert submitted.handle == JobHandle(
        "fal", "req-1", "fal-ai/flux/schnell", {"status_url": HANDLE["urls"]["status_url"]}
    )
    assert (submitted.attempt, submitted.at) == (2, 1_800_000_000.25)
    assert (submitted.reservation_id, submitted.estimate_usd) == ("res-1", "0.003")
    # Without a budget or a price, submit left both keys out.
    bare = {
        k: v for k, v in PREVIOUS_SUBMITTED.items() if k not in ("reservation_id", "estimate_usd")
    }
    unpriced = submit_outcome(bare)
    assert isinstance(unpriced, Submitted)
    assert (unpriced.reservation_id, unpriced.estimate_usd) == (None, None)
    assert submit_outcome({"outcome": "ended", "status": "canceled"}) == Ended(status="canceled")
    failed = submit_outcome({"outcome": "error", "error": ERROR})
    assert failed == Failure(error=StepError(**ERROR))


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"state": "queued", "position": 3, "at": 10.0}, {"position": 3}),
        ({"state": "running", "progress": None, "at": 10.0}, {"progress": None}),
        ({"state": "unknown", "error": ERROR, "at": 10.0}, {"error": StepError(**ERROR)}),
        ({"state": "failed", "error": ERROR, "at": 10.0}, {"error": StepError(**ERROR)}),
        ({"state": "canceled", "reason": "by vendor", "at": 10.0}, {"reason": "by vendor"}),
        (
            {
                "state": "succeeded",
                "outputs": PREVIOUS_URL_OUTPUTS,
                "cost_usd": "0.003",
                "metadata": METADATA,
                "at": 10.0,
            },
            {
                "outputs": (OutputRef(index=0, url="https://cdn.example/0.png"),),
                "cost_usd": "0.003",
                "metadata": ResultMetadata(**METADATA),
            },
        ),
        # Inline bytes: the outputs must be fetched in a step of their own.
        (
            {
                "state": "succeeded",
                "outputs": None,
                "cost_usd": None,
                "metadata": METADATA,
                "at": 1,
            },
            {"outputs": None, "metadata": ResultMetadata(**METADATA)},
        ),
    ],
)
def test_poll_results_of_the_previous_release(
    stored: dict[str, Any], expected: dict[str, Any]
) -> None:
    report = provider_report(stored)
    assert report.state == stored["state"]
    assert report.at == float(stored["at"])
    for name, value in expected.items():
        assert getattr(report, name) == value
    assert report.final == (stored["state"] in ("succeeded", "failed", "canceled"))


def test_webhook_messages_of_the_previous_release() -> None:
    message = {
        "state": "succeeded",
        "outputs": PREVIOUS_URL_OUTPUTS,
        "cost_usd": None,
        # A webhook's metadata names no model: the handle's is used.
        "metadata": {**METADATA, "model": ""},
        "request_id": "req-1",
        "event_id": "evt-9",
        "at": 12.5,
    }
    report = provider_report(message)
    assert (report.request_id, report.event_id, report.final) == ("req-1", "evt-9", True)
    assert report.metadata is not None
    assert report.metadata.model == ""


def test_fetch_ingest_and_inline_results_of_the_previous_release() -> None:
    fetched = fetch_outcome(
        {
            "outcome": "fetched",
            "outputs": [{"index": 0, "asset_id": "a0"}, {"index": 1, "url": "https://x/1.png"}],
            "cost_usd": "0.04",
            "metadata": METADATA,
        }
    )
    assert fetched == Fetched(
        outputs=(OutputRef(index=0, asset_id="a0"), OutputRef(index=1, url="https://x/1.png")),
        cost_usd="0.04",
        metadata=ResultMetadata(**METADATA),
    )
    assert fetch_outcome({"outcome": "error", "error": ERROR}) == Failure(error=StepError(**ERROR))
    ingested = ingest_outcome({"outcome": "ingested", "asset_ids": ["a0", "a1"]})
    assert ingested == Ingested(asset_ids=("a0", "a1"))
    # An inline run returned the ingest result with the fetch's cost and metadata, even when
    # the ingest failed.
    inline = inline_outcome(
        {"outcome": "ingested", "asset_ids": ["a0"], "cost_usd": None, "metadata": METADATA}
    )
    assert inline == Ingested(asset_ids=("a0",), metadata=ResultMetadata(**METADATA))
    failed = inline_outcome(
        {"outcome": "error", "error": ERROR, "cost_usd": "0.1", "metadata": METADATA}
    )
    assert failed == Failure(error=StepError(**ERROR))
    assert inline_outcome({"outcome": "ended", "status": "canceled"}) == Ended(status="canceled")


def test_record_results_of_the_two_previous_releases() -> None:
    assert job_end({"status": "succeeded", "run_settled": True}) == JobEnd(
        status="succeeded", run_settled=True
    )
    assert job_end({"status": "failed", "run_settled": None}).run_settled is None
    # The oldest stored the status alone: the workflow then looks at its run in a step.
    assert job_end("succeeded") == JobEnd(status="succeeded", run_settled=None)


def test_an_unreadable_checkpoint_is_not_guessed_at() -> None:
    with pytest.raises(ValidationError):
        submit_outcome({"outcome": "accepted", "handle": HANDLE})
    with pytest.raises(ValidationError):
        ingest_outcome({"outcome": "fetched", "outputs": []})
    with pytest.raises(ValidationError):
        provider_report({"state": "succeeded", "outputs": [{"index": 0}], "at": 1.0})


def _round_trip(value: Any, read: Any) -> dict[str, Any]:
    stored = value.checkpoint()
    assert json.loads(json.dumps(stored)) == stored
    assert read(stored) == value
    return dict(stored)


def test_what_is_stored_now_is_plain_json_with_every_key_read_before() -> None:
    handle = JobHandle(**HANDLE)
    submitted = Submission(attempt=1, handle=handle, estimate_usd="0.003").accepted_at(5.0)
    stored = _round_trip(submitted, submit_outcome)
    assert stored.keys() >= {"outcome", "attempt", "handle", "at"}
    assert stored["handle"] == HANDLE
    # The job's history keeps the previous shape: absent keys, not nulls.
    assert submitted.detail() == {"attempt": 1, "handle": HANDLE, "estimate_usd": "0.003"}
    # A vendor's billed figure, where it gave one, is kept with the handle and read back.
    billed = Submission(attempt=1, handle=JobHandle(**HANDLE, cost_usd=Decimal("0.004")))
    kept = Submission.model_validate(billed.detail())
    assert billed.detail()["handle"] == {**HANDLE, "cost_usd": "0.004"}
    assert kept.handle.cost_usd == Decimal("0.004")
    error = Failure(error=StepError.of(ProviderRateLimited("Slow down.", retry_after=2.5)))
    assert _round_trip(error, submit_outcome)["error"]["retry_after"] == 2.5
    fetched = Fetched(
        outputs=(OutputRef(index=0, url="https://x/0.png"),),
        metadata=ResultMetadata(**METADATA),
    )
    assert _round_trip(fetched, fetch_outcome)["outputs"][0]["url"] == "https://x/0.png"
    _round_trip(Ingested(asset_ids=("a",), cost_usd="1"), inline_outcome)
    _round_trip(JobEnd(status="failed", run_settled=False), job_end)


def test_provider_states_become_reports_by_way_of_their_json() -> None:
    result = Succeeded(
        outputs=(OutputMedia(url="https://x/0.png"),),
        metadata=GenerationMetadata(
            model="m", seed=3, extra={"when": Decimal("1.5"), "ids": ("a", "b")}
        ),
        cost_usd=Decimal("0.25"),
    )
    report = provider_report(state_payload(result) | {"at": 3.0})
    assert report.outputs == (OutputRef(index=0, url="https://x/0.png"),)
    assert report.cost_usd == "0.25"
    assert report.metadata == ResultMetadata(
        model="m", seed=3, extra={"when": "1.5", "ids": ["a", "b"]}
    )
    assert provider_report(state_payload(Queued(position=2))).position == 2
    assert provider_report(state_payload(Running(progress=0.5))).progress == 0.5
    assert provider_report(state_payload(Canceled("gone"))).reason == "gone"
    assert isinstance(report, ProviderReport)


@pytest.mark.parametrize(
    ("vendor_value", "kept"),
    [
        (12, 12),
        (12.0, 12),
        ("12", 12),
        (2**63 + 1, 2**63 + 1),
        (1.5, None),
        ("abc", None),
        (True, None),
    ],
)
def test_odd_vendor_numbers_do_not_fail_a_paid_job(vendor_value: Any, kept: int | None) -> None:
    assert ResultMetadata.model_validate({"model": "m", "seed": vendor_value}).seed == kept


def test_submit_results_of_this_release_read_back() -> None:
    handle = JobHandle(**HANDLE)
    # A submission stored before synchronous results were kept has none.
    assert cast_submitted(submit_outcome(PREVIOUS_SUBMITTED)).result is None
    held = Fetched(
        outputs=(OutputRef(index=0, asset_id="a0"), OutputRef(index=1, url="https://x/1.png")),
        cost_usd="0.039",
        metadata=ResultMetadata(**METADATA),
    )
    submitted = Submission(attempt=1, handle=handle).accepted_at(5.0, held)
    stored = _round_trip(submitted, submit_outcome)
    assert stored["result"]["outputs"][0] == {"index": 0, "url": None, "asset_id": "a0"}
    # The job's history keeps the submission alone; the result is added beside it.
    assert "result" not in submitted.detail()
    doubt = InDoubt(until=1_800_000_030.5, error=StepError(**ERROR))
    assert _round_trip(doubt, submit_outcome)["outcome"] == "in_doubt"
    assert submit_outcome({"outcome": "in_doubt", "until": 3}) == InDoubt(until=3.0)


def cast_submitted(outcome: object) -> Submitted:
    assert isinstance(outcome, Submitted)
    return outcome
