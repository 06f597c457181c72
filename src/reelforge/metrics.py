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
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary
from prometheus_client.exposition import generate_latest

__all__ = ["FrameOutcome", "ImageGenerationMetrics", "Metrics"]

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
        if retries:
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


class Metrics:
    """The process's metrics: one registry, and the series the features write."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.image_generation = ImageGenerationMetrics(self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
