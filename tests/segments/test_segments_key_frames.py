"""A segment over three key frames, made by the local studio, shows all three: the provider
takes key frames in order, so the frame between the first and the last is sent too, and the
clip (decoded back) holds each key frame in turn; the run's preview shows them all."""

from __future__ import annotations

import io
from pathlib import Path

import av
import httpx
import numpy as np
import numpy.typing as npt
from PIL import Image

from segments.segments_support import fetch_video, frame_images, request_body, segments_harness


def frames_of(path: Path) -> list[npt.NDArray[np.int16]]:
    with av.open(str(path)) as container:
        return [
            f.to_ndarray(format="rgb24").astype(np.int16)
            for f in container.decode(container.streams.video[0])
        ]


def order_shown(video: list[npt.NDArray[np.int16]], keys: list[npt.NDArray[np.int16]]) -> list[int]:
    """The key frames the clip settles on, in order (each counted once where it holds)."""
    shown: list[int] = []
    for frame in video:
        distance = [float(np.abs(frame - key).mean()) for key in keys]
        nearest = int(np.argmin(distance))
        if distance[nearest] < 6 and (not shown or shown[-1] != nearest):
            shown.append(nearest)
    return shown


async def test_a_three_frame_segment_shows_its_middle_key_frame(tmp_path: Path) -> None:
    async with (
        segments_harness(tmp_path, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http,
    ):
        urls = await frame_images(harness.services, 7)
        keys = []
        for url in urls:
            key = url.removeprefix(harness.services.settings.public_base_url + "/")
            data = await http.get(f"/media/{key}")
            data.raise_for_status()
            with Image.open(io.BytesIO(data.content)) as opened:
                keys.append(np.asarray(opened.convert("RGB"), np.int16))
        # Seven shots of one scene make three segments (3 + 2 + 2 frames); no camera move.
        body = request_body([(1, shot) for shot in range(1, 8)], urls)
        body["video_settings"] = {"motion_strength": 0.0}
        response = await http.post("/v1/segments", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        first = answer["video_segments"][0]
        clip = await fetch_video(http, first["video_url"], tmp_path)
        assembled = await http.post(f"/v1/runs/{answer['run_id']}/assemble")
        assert assembled.status_code == 200, assembled.text
        preview = await fetch_video(http, assembled.json()["video_url"], tmp_path)
    assert first["associated_frames"] == ["SCENE_1_SHOT_1", "SCENE_1_SHOT_2", "SCENE_1_SHOT_3"]
    assert first["provider_metadata"]["key_frames"] == 3
    assert order_shown(frames_of(clip), keys[:3]) == [0, 1, 2]
    assert order_shown(frames_of(preview), keys) == [0, 1, 2, 3, 4, 5, 6]
