"""The demo's second half: key frames into motion segments, then one assembled preview."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from reelforge.features.keyframes.schemas import KeyframesRequest, KeyframesResponse
from reelforge.features.segments.schemas import request_from_keyframes
from reelforge.features.segments.service import assemble_run, generate_segments
from reelforge.services import Services

__all__ = ["SegmentRow", "SegmentsOutcome", "make_segments"]


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """One segment made: its key frames, where it is, how long it runs and who made it."""

    segment_id: str
    frames: str
    url: str
    duration_s: float
    provider: str
    model: str


@dataclass
class SegmentsOutcome:
    """What the segments step made, what failed, and the assembled preview."""

    rows: list[SegmentRow] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    preview_url: str | None = None

    @property
    def count(self) -> int:
        return len(self.rows)

    def files(self) -> Iterator[tuple[str, str]]:
        for row in self.rows:
            yield row.segment_id, row.url
        if self.preview_url is not None:
            yield "PREVIEW", self.preview_url

    def print_summary(self, console: Console) -> None:
        table = Table(title="Motion segments")
        for column in ("segment", "key frames", "provider", "model", "length", "status"):
            table.add_column(column, no_wrap=True)
        for row in self.rows:
            table.add_row(
                row.segment_id, row.frames, row.provider, row.model, f"{row.duration_s:.2f} s", "ok"
            )
        for segment_id, error in self.failed:
            table.add_row(segment_id, "-", "-", "-", "-", f"failed: {error}")
        console.print(table)


async def make_segments(
    services: Services,
    request: KeyframesRequest,
    keyframes: KeyframesResponse,
    *,
    provider: str | None,
) -> SegmentsOutcome | None:
    """Segments from the key frames that rendered (on ``provider``, else the default), then
    the run's preview; None if no key frame rendered."""
    rendered = {frame.frame_id for frame in keyframes.generated_frames}
    if not rendered:
        return None
    segments_request = request_from_keyframes(
        [f.model_dump() for f in request.storyboard_frames if f.frame_id in rendered],
        [{"frame_id": g.frame_id, "image_url": g.image_url} for g in keyframes.generated_frames],
        {"project_id": "demo", "episode_id": "lighthouse"},
        video_settings=None if provider is None else {"provider_override": provider},
    )
    answer = await generate_segments(services.segments, segments_request)
    outcome = SegmentsOutcome(
        rows=[
            SegmentRow(
                segment_id=str(segment["segment_id"]),
                frames=", ".join(segment["associated_frames"]),
                url=str(segment["video_url"]),
                duration_s=float(segment["duration_seconds"]),
                provider=str(segment["provider_metadata"].get("provider", "-")),
                model=str(segment["provider_metadata"].get("model", "-")),
            )
            for segment in answer["video_segments"]
        ],
        failed=[(str(f["segment_id"]), str(f["error"])) for f in answer["failed_segments"]],
    )
    if outcome.rows:
        preview = await assemble_run(services.segments, str(answer["run_id"]))
        outcome.preview_url = str(preview["video_url"])
    return outcome
