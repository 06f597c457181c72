"""Motion prompts and job specs: what each segment asks its provider for.

The prompt comes from the versioned template ``segment_motion`` (``prompts/templates``): the
storyboard's description, camera notes, lighting and prompt seed of every frame of the
segment, verbatim. The job sends the segment's first key frame, and its last one too when the
provider accepts a first and a last frame (:attr:`reelforge.providers.base.Provider.
accepts_last_frame`); the frames between are in the prompt only, unless the provider takes
key frames in order (:attr:`~reelforge.providers.base.Provider.max_key_frames`), which then
get every frame of the segment (evenly picked, first and last kept, past its limit).

Segments are never retried (the spec): a provider error is final for that segment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reelforge.budget.plans import PlannedJob
from reelforge.engine.specs import JobSpec, RetryPolicy, WaitPolicy
from reelforge.errors import InvalidInput
from reelforge.features.segments.casting import SegmentCast
from reelforge.features.segments.config import SegmentSettings
from reelforge.features.segments.grouping import SegmentPlan
from reelforge.features.segments.schemas import KeyFrame
from reelforge.prompts.template import PromptTemplate
from reelforge.providers.base import Capability

__all__ = ["TEMPLATE_NAME", "MotionJob", "key_frame_ids", "motion_prompt", "wait_policy"]

TEMPLATE_NAME = "segment_motion"
NO_RETRIES = RetryPolicy(max_retries=0)
_MAX_PROMPT = 20_000


@dataclass(frozen=True, slots=True)
class MotionJob:
    """One segment's provider call, before its key frames are ingested."""

    segment: SegmentPlan
    frames: tuple[KeyFrame, ...]
    provider: str
    prompt: str
    template: PromptTemplate
    motion_strength: float
    width: int
    height: int
    key_frames: tuple[str, ...]
    #: The segment's characters and references (None: the request has no profiles), and the
    #: model a job carrying references goes to.
    cast: SegmentCast | None = None
    reference_model: str | None = None

    def planned(self) -> PlannedJob:
        """The same call for a dry run, priced from its parameters (nothing sent)."""
        return PlannedJob.build(
            self.provider,
            Capability.IMAGE_TO_VIDEO,
            width=self.width,
            height=self.height,
            duration_s=self.segment.duration_s,
            input_images=len(self.key_frames),
            label=self.segment.segment_id,
            model=self._model(),
            reference_count=len(self.cast.references.sent) if self.cast else 0,
        )

    def _model(self) -> str | None:
        return self.reference_model if self.cast and self.cast.references.sent else None

    def spec(
        self, frame_assets: Mapping[str, str], wait: WaitPolicy, budget_scopes: Sequence[str]
    ) -> JobSpec:
        """The engine's job, with ``frame_assets`` (frame id to asset id) as its inputs."""
        return JobSpec(
            provider=self.provider,
            capability=Capability.IMAGE_TO_VIDEO,
            prompt=self.prompt,
            width=self.width,
            height=self.height,
            duration_s=self.segment.duration_s,
            motion_strength=self.motion_strength,
            camera_notes=self.frames[0].camera_notes,
            input_asset_ids=tuple(frame_assets[frame_id] for frame_id in self.key_frames),
            reference_asset_ids=self.cast.reference_asset_ids if self.cast else (),
            model=self._model(),
            label=self.segment.segment_id,
            template_name=self.template.name,
            template_version=self.template.version,
            budget_scopes=tuple(budget_scopes),
            retry=NO_RETRIES,
            wait=wait,
        )

    def to_json(self) -> dict[str, object]:
        return {
            **self.segment.to_json(),
            "provider": self.provider,
            "key_frames": list(self.key_frames),
            "prompt": self.prompt,
            "prompt_template": {"name": self.template.name, "version": self.template.version},
            **(self.cast.to_json() if self.cast is not None else {}),
        }


def wait_policy(settings: SegmentSettings) -> WaitPolicy:
    """Webhook when the provider sends one, polling every ``poll_interval_s``; pending past
    ``wait_cap_s`` and still followed after it."""
    return WaitPolicy(
        poll_interval_s=settings.poll_interval_s,
        cap_s=settings.wait_cap_s,
        after_cap_interval_s=settings.after_cap_interval_s,
        give_up_after_s=settings.give_up_after_s,
        webhook=settings.webhooks,
    )


def key_frame_ids(
    frames: Sequence[KeyFrame], accepts_last_frame: bool, max_key_frames: int | None = None
) -> tuple[str, ...]:
    """Every frame where the provider takes key frames in order (at most ``max_key_frames``,
    evenly picked with the first and the last); else the first frame, and the last one where
    the provider takes both."""
    if max_key_frames is not None and max_key_frames >= 2 and len(frames) > 1:
        count = min(len(frames), max_key_frames)
        picked = sorted({round(i * (len(frames) - 1) / (count - 1)) for i in range(count)})
        return tuple(frames[i].frame_id for i in picked)
    if accepts_last_frame and len(frames) > 1:
        return (frames[0].frame_id, frames[-1].frame_id)
    return (frames[0].frame_id,)


def motion_prompt(
    template: PromptTemplate,
    segment: SegmentPlan,
    frames: Sequence[KeyFrame],
    motion_strength: float,
    cast: str = "",
) -> str:
    """The ``motion`` part of ``template`` for ``segment``; the storyboard's words verbatim."""
    rendered = [
        template.render(
            "frame",
            {
                "shot": str(index),
                "frame_id": frame.frame_id,
                "description": frame.description,
                "camera_notes": frame.camera_notes,
                "lighting_mood": frame.lighting_mood,
                "prompt_seed": frame.prompt_seed,
            },
        )
        for index, frame in enumerate(frames, start=1)
    ]
    transition = (
        f"Move through its {len(frames)} key frames in order, from the first to the last."
        if len(frames) > 1
        else ""
    )
    prompt = template.render(
        "motion",
        {
            "frames": " ".join(rendered),
            "segment_id": segment.segment_id,
            "scene_number": str(segment.scene_number),
            "frame_count": str(len(frames)),
            "duration_seconds": f"{segment.duration_s:g}",
            "motion_strength": f"{motion_strength:g}",
            "transition": transition,
        },
    )
    if cast:
        prompt = f"{prompt} {cast}"
    if len(prompt) > _MAX_PROMPT:
        raise InvalidInput(
            f"The motion prompt of {segment.segment_id} is {len(prompt)} characters; at most "
            f"{_MAX_PROMPT} are sent. Shorten its frames' descriptions.",
            details={"segment_id": segment.segment_id, "length": len(prompt)},
        )
    return prompt
