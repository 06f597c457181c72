"""``reelforge studio``: the local studio's previz and animatic, straight to files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reelforge.cli.common import AsJson, console, fail_on_error, print_json
from reelforge.errors import InvalidInput
from reelforge.providers.briefs import CharacterBrief, SceneBrief

__all__ = ["app", "brief_from_json"]

app = typer.Typer(
    help="The offline local studio: previz stills and animatic clips.", no_args_is_help=True
)


def brief_from_json(data: object) -> SceneBrief:
    """A SceneBrief from a storyboard frame object (keyframes spec fields + ``characters``)."""
    if not isinstance(data, dict):
        raise InvalidInput("A frame must be a JSON object.")
    try:
        characters = tuple(
            CharacterBrief(name=str(c["name"]), visual_signature=str(c.get("visual_signature", "")))
            for c in data.get("characters", [])
        )
        return SceneBrief(
            frame_id=str(data["frame_id"]),
            description=str(data["description"]),
            camera_notes=str(data.get("camera_notes", "")),
            lighting_mood=str(data.get("lighting_mood", "")),
            prompt_seed=str(data.get("prompt_seed", "")),
            characters=characters,
            scene_id=str(data.get("scene_id", "")),
            scene_text=str(data.get("scene_text", "")),
        )
    except (KeyError, TypeError) as exc:
        raise InvalidInput(f"The frame is missing a field: {exc}.") from None


@app.command()
def previz(
    frame: Annotated[
        Path, typer.Argument(help="A storyboard frame as JSON", exists=True, dir_okay=False)
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG file to write")],
    aspect_ratio: Annotated[str, typer.Option(help="16:9, 9:16, 1:1, 4:3 or 21:9")] = "16:9",
    seed: Annotated[int, typer.Option(help="Seed for the draft's details")] = 0,
    as_json: AsJson = False,
) -> None:
    """Draw a previz still of one storyboard frame."""
    from PIL import PngImagePlugin

    from reelforge.imaging.sizes import resolve_size
    from reelforge.providers.local.dressing import LAYOUT_CHUNK
    from reelforge.providers.local.previz import draw_previz

    with fail_on_error():
        try:
            data = json.loads(frame.read_text())
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{frame} is not valid JSON: {exc.msg}.") from None
        width, height = resolve_size(aspect_ratio)
        drawn = draw_previz(brief_from_json(data), width=width, height=height, seed=seed)
        info = PngImagePlugin.PngInfo()
        info.add_text(LAYOUT_CHUNK, json.dumps(drawn.layout.as_record()), zip=True)
        drawn.image.save(output, format="PNG", pnginfo=info)
    if as_json:
        print_json({"path": str(output), "width": width, "height": height})
    else:
        console.print(f"wrote {output} ({width}x{height})", soft_wrap=True, highlight=False)


@app.command()
def animatic(
    frames: Annotated[
        list[Path],
        typer.Argument(help="Key frame images, in order (1-8)", exists=True, dir_okay=False),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="MP4 file to write")],
    camera: Annotated[str, typer.Option(help="Camera move, e.g. 'push-in', 'pan left'")] = "",
    duration: Annotated[float, typer.Option(help="Seconds")] = 3.0,
    motion_strength: Annotated[float, typer.Option(help="0 (still) to 1")] = 0.5,
    width: Annotated[int, typer.Option()] = 1280,
    height: Annotated[int, typer.Option()] = 720,
    as_json: AsJson = False,
) -> None:
    """Make an animatic clip from key frames, each held in turn and crossfading into the next."""
    from PIL import Image

    from reelforge.providers.local.animatic import MAX_KEY_FRAMES, render_animatic
    from reelforge.providers.local.rendering import subject_focus

    with fail_on_error():
        if not 1 <= len(frames) <= MAX_KEY_FRAMES:
            raise InvalidInput(f"Give 1 to {MAX_KEY_FRAMES} key frames.")
        images, focus = [], []
        for path in frames:
            with Image.open(path) as opened:
                images.append(opened.convert("RGB"))
                focus.append(subject_focus(opened))
        info = render_animatic(
            images,
            out=output,
            duration_s=duration,
            camera=camera,
            motion_strength=motion_strength,
            width=width,
            height=height,
            focus=focus,
        )
    if as_json:
        print_json(
            {
                "path": str(info.path),
                "width": info.width,
                "height": info.height,
                "duration_s": info.duration_s,
                "fps": info.fps,
                "frame_count": info.frame_count,
                "camera": info.camera.value,
                "motion_strength": info.motion_strength,
                "key_frames": info.key_frames,
            }
        )
        return
    camera_move = info.camera.value.replace("_", " ")
    console.print(
        f"wrote {info.path}: {info.width}x{info.height}, {info.duration_s:g} s at {info.fps} fps "
        f"({info.frame_count} frames), camera {camera_move}, motion {info.motion_strength:g}, "
        f"from {info.key_frames} key frame{'s' if info.key_frames != 1 else ''}",
        soft_wrap=True,
        highlight=False,
    )
