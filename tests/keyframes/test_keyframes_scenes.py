"""Key frames know their scene: each job's structured scene names the scene and carries the
words of all its frames, so the local studio draws every shot of a scene in the same set; its
stills carry their layout record (the subject's face) and no caption."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from fixtures.engine import open_engine_harness
from keyframes.keyframes_support import decode_image, keyframes_settings, storyboard


async def test_each_frame_carries_its_scene_to_the_local_studio(tmp_path: Path) -> None:
    body = storyboard(4, provider="local")  # SCENE_1_SHOT_1-3, SCENE_2_SHOT_1
    body["storyboard_frames"][3]["frame_id"] = "Epilogue"
    body["storyboard_frames"][1]["description"] = "Mara holds a lantern by the lighthouse."
    settings = keyframes_settings(tmp_path / "data", "http://127.0.0.1:9")
    async with open_engine_harness(settings) as harness, httpx.AsyncClient(timeout=60) as http:
        response = await http.post(f"{harness.base_url}/v1/keyframes", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["failed_frames"] == []
        jobs = await harness.services.catalog.jobs.list_for_run(answer["run_id"])
        scenes = {job.request["label"]: job.request["scene"] for job in jobs}
        first = answer["generated_frames"][0]
        image = await decode_image(
            http, harness.base_url, harness.services.settings, first["image_url"]
        )
    words = " ".join(frame["description"] for frame in body["storyboard_frames"][:3])
    for shot in (1, 2, 3):
        scene = scenes[f"SCENE_1_SHOT_{shot}"]
        assert (scene["scene_id"], scene["scene_text"]) == ("SCENE_1", words)
    assert (scenes["Epilogue"]["scene_id"], scenes["Epilogue"]["scene_text"]) == ("", "")
    layout = json.loads(image.info["reelforge-layout"])
    assert layout["subject"] == "Mara"
    assert layout["caption"] == body["storyboard_frames"][0]["description"]
    # The scene's set: the lantern shot's lighthouse stands in its other shots too.
    assert "lighthouse" in {thing["name"] for thing in layout["things"]}
