"""The process's Prometheus metrics, in a registry of its own (never the global one).

:class:`Metrics` is built by the composition root (``services.metrics``) with its own
``CollectorRegistry``, so two apps in one process (tests) never share a series. The route sits
behind bearer auth like the rest of the API; give Prometheus the token
(``authorization: {credentials: ...}`` in its scrape config).

The keyframes spec's three metrics, as Prometheus names them (dots become underscores), with
``provider`` as a label; the feature observes each frame once, when its run finishes
(:meth:`ImageGenerationMetrics.observe_frame`):

======================================  =========  ==========================================
spec                                    type       series
======================================  =========  ==========================================
``image_generation.success_rate``       gauge      ``image_generation_success_rate``: finished
                                                   frames that succeeded, 0..1, since start
``image_generation.avg_latency_ms``     gauge      ``image_generation_avg_latency_ms``: mean
                                                   time from queued to stored, succeeded frames
``image_generation.retry_count``        counter    ``image_generation_retry_count_total``
======================================  =========  ==========================================

The gauges answer the spec's question directly; for rates over a window use the counters
they are derived from: ``image_generation_frames_total{provider, outcome}`` (outcome:
succeeded, failed, canceled) and ``image_generation_latency_ms`` (a summary: ``_sum`` and
``_count``), e.g. ``rate(image_generation_latency_ms_sum[5m]) /
rate(image_generation_latency_ms_count[5m])``. Counts are per process and start at zero, as
Prometheus counters do.

The engine's, the webhook inbox's and the budget's series (``reelforge_*``) are described in
``docs/metrics.md``: :class:`JobMetrics` (per feature, provider and model), :class:`QueueMetrics`,
:class:`WebhookMetrics`, :class:`HookMetrics` (webhooks sent) and :class:`BudgetMetrics`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.exposition import generate_latest

__all__ = [
    "BudgetMetrics",
    "FrameOutcome",
    "HookMetrics",
    "ImageGenerationMetrics",
    "JobMetrics",
    "Metrics",
    "QueueMetrics",
    "WebhookMetrics",
]

FrameOutcome = Literal["succeeded", "failed", "canceled"]


class ImageGenerationMetrics:
    """The image-generation series (see the module doc)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.frames = Counter(
            "image_generation_frames",
            "Key frames finished, by provider and outcome.",
            ["provider", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "image_generation_retry_count",
            "Provider retries made for key frames (the spec's image_generation.retry_count).",
            ["provider"],
            registry=registry,
        )
        self.latency = Summary(
            "image_generation_latency_ms",
            "Time from queued to stored of succeeded key frames, in milliseconds.",
            ["provider"],
            registry=registry,
        )
        self.success_rate = Gauge(
            "image_generation_success_rate",
            "Share of finished key frames that succeeded (image_generation.success_rate).",
            ["provider"],
            registry=registry,
        )
        self.avg_latency = Gauge(
            "image_generation_avg_latency_ms",
            "Mean queued-to-stored time of succeeded key frames, ms "
            "(image_generation.avg_latency_ms).",
            ["provider"],
            registry=registry,
        )
        self._finished: defaultdict[str, int] = defaultdict(int)
        self._succeeded: defaultdict[str, int] = defaultdict(int)
        self._latency_ms: defaultdict[str, float] = defaultdict(float)
        self._timed: defaultdict[str, int] = defaultdict(int)

    def observe_frame(
        self, provider: str, outcome: FrameOutcome, *, latency_ms: float | None, retries: int
    ) -> None:
        """Count one finished frame."""
        self.frames.labels(provider, outcome).inc()
        # Shown from the first frame, at 0 until a retry happens.
        self.retries.labels(provider).inc(retries)
        self._finished[provider] += 1
        if outcome == "succeeded":
            self._succeeded[provider] += 1
            if latency_ms is not None:
                self.latency.labels(provider).observe(latency_ms)
                self._latency_ms[provider] += latency_ms
                self._timed[provider] += 1
                self.avg_latency.labels(provider).set(
                    self._latency_ms[provider] / self._timed[provider]
                )
        self.success_rate.labels(provider).set(self._succeeded[provider] / self._finished[provider])


#: Seconds from submission to stored outputs: an image takes seconds, a video minutes.
_GENERATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600)
#: Seconds a job waits in its queue before its first submission.
_WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_JOB_LABELS = ["feature", "provider", "model"]


class JobMetrics:
    """Provider jobs, counted when the catalog records a change of their status (once each)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.submissions = Counter(
            "reelforge_provider_submissions",
            "Provider submissions accepted (a job entering running).",
            _JOB_LABELS,
            registry=registry,
        )
        self.retries = Counter(
            "reelforge_provider_retries",
            "Submissions accepted for a job's second or later attempt.",
            _JOB_LABELS,
            registry=registry,
        )
        self.successes = Counter(
            "reelforge_provider_successes",
            "Jobs that succeeded (outputs stored).",
            _JOB_LABELS,
            registry=registry,
        )
        self.failures = Counter(
            "reelforge_provider_failures",
            "Jobs that failed, by their final error code.",
            [*_JOB_LABELS, "code"],
            registry=registry,
        )
        self.cancellations = Counter(
            "reelforge_provider_cancellations",
            "Jobs canceled.",
            _JOB_LABELS,
            registry=registry,
        )
        self.latency = Histogram(
            "reelforge_provider_latency_seconds",
            "Time from a job's first accepted submission to its outputs stored.",
            _JOB_LABELS,
            buckets=_GENERATION_BUCKETS,
            registry=registry,
        )
        self.cost = Counter(
            "reelforge_provider_cost_usd",
            "Settled cost of finished jobs, US dollars.",
            _JOB_LABELS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "reelforge_queue_wait_seconds",
            "Time from a job queued to its first accepted submission.",
            ["feature", "provider"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )

    def submitted(
        self, feature: str, provider: str, model: str, *, attempt: int, waited_s: float | None
    ) -> None:
        self.submissions.labels(feature, provider, model).inc()
        # What can follow a submission reads 0 until it happens, rather than being absent.
        for series in (self.retries, self.successes, self.cancellations, self.cost):
            series.labels(feature, provider, model)
        if attempt > 1:
            self.retries.labels(feature, provider, model).inc()
        if waited_s is not None:
            self.queue_wait.labels(feature, provider).observe(max(waited_s, 0.0))

    def succeeded(
        self, feature: str, provider: str, model: str, *, latency_s: float | None
    ) -> None:
        self.successes.labels(feature, provider, model).inc()
        if latency_s is not None:
            self.latency.labels(feature, provider, model).observe(max(latency_s, 0.0))

    def failed(self, feature: str, provider: str, model: str, code: str) -> None:
        self.failures.labels(feature, provider, model, code).inc()

    def canceled(self, feature: str, provider: str, model: str) -> None:
        self.cancellations.labels(feature, provider, model).inc()

    def settled(self, feature: str, provider: str, model: str, cost_usd: float) -> None:
        if cost_usd > 0:
            self.cost.labels(feature, provider, model).inc(cost_usd)


class QueueMetrics:
    """Jobs queued and in flight per provider: read from the catalog at each scrape, so every
    process that serves ``/metrics`` sees the whole queue, whichever worker holds the jobs."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.jobs = Gauge(
            "reelforge_queue_jobs",
            "Open jobs by provider and status (queued: not yet submitted; running: in flight).",
            ["provider", "status"],
            registry=registry,
        )
        self._seen: set[tuple[str, str]] = set()

    def set_open_jobs(
        self, counts: Mapping[tuple[str, str], int], providers: Iterable[str] = ()
    ) -> None:
        """The open jobs now, by ``(provider, status)``; ``providers`` read 0 when they have
        none, as do series counted before."""
        self._seen |= set(counts) | {(p, s) for p in providers for s in ("queued", "running")}
        for provider, status in self._seen:
            self.jobs.labels(provider, status).set(counts.get((provider, status), 0))


class WebhookMetrics:
    """Provider callbacks received on ``POST /webhooks/{provider}``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "reelforge_webhooks_received",
            "Provider callbacks received, accepted or refused, with the reason "
            "(accepted: delivered, duplicate, late, unknown, invalid; refused: why).",
            ["provider", "result", "reason"],
            registry=registry,
        )

    def accepted(self, provider: str, outcome: str) -> None:
        self.received.labels(provider, "accepted", outcome).inc()

    def refused(self, provider: str, reason: str) -> None:
        self.received.labels(provider, "refused", reason).inc()


class HookMetrics:
    """Outgoing webhooks: each delivery attempt, by event and outcome."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "reelforge_webhooks_sent",
            "Outgoing webhook delivery attempts by event and outcome "
            "(delivered: a 2xx answer; failed: another answer or none; refused: the URL guard).",
            ["event", "outcome"],
            registry=registry,
        )

    def attempted(self, event: str, outcome: str) -> None:
        self.sent.labels(event, outcome).inc()

    def start_at_zero(self, events: Iterable[str], outcomes: Iterable[str]) -> None:
        """Expose every (event, outcome) series from the start, at 0, so that a rate over it
        reads 0 rather than no data before the first delivery."""
        kept = list(outcomes)
        for event in events:
            for outcome in kept:
                self.sent.labels(event, outcome)


class BudgetMetrics:
    """Budget refusals, by the kind of scope whose cap refused."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refusals = Counter(
            "reelforge_budget_refusals",
            "Reservations and plans refused for a capped scope, by scope kind.",
            ["scope_kind"],
            registry=registry,
        )

    def expect(self, scope_kinds: Iterable[str]) -> None:
        """Show these kinds' refusals from the start, at 0."""
        for kind in scope_kinds:
            self.refusals.labels(kind)

    def refused(self, scope_kind: str) -> None:
        self.refusals.labels(scope_kind).inc()


class Metrics:
    """The process's metrics: one registry, and the series the features and the engine write."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.image_generation = ImageGenerationMetrics(self.registry)
        self.jobs = JobMetrics(self.registry)
        self.queue = QueueMetrics(self.registry)
        self.webhooks = WebhookMetrics(self.registry)
        self.hooks_out = HookMetrics(self.registry)
        self.budget = BudgetMetrics(self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
