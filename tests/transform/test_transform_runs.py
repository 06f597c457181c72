"""Transforms that run: the local studio offline, Replicate, Runway failing over to Leonardo,
partial success, timeouts and dry runs, over real HTTP with the engine and the emulator."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import structlog

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer
from reelforge.features.transform.repository import TransformRepository
from transform.transform_support import (
    DESCRIPTION,
    HOSTED_ENV,
    TransformApp,
    astronaut,
    decoded,
    encoded,
    form_bytes,
    small_mp4,
    transform_app,
    transform_settings,
)

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


async def _post_form(app: TransformApp, fields: dict[str, str], data: bytes) -> httpx.Response:
    content_type, body = form_bytes(fields, data)
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(
            f"{app.base_url}/generate/cinematic",
            content=body,
            headers={"Content-Type": content_type},
        )


async def _fetch(app: TransformApp, url: str) -> bytes:
    """A public media URL, fetched from this test's server (the configured base names the
    default port, which this server does not use)."""
    served = url.replace(app.services.settings.public_base_url, f"{app.base_url}/media")
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(served)
        response.raise_for_status()
        return response.content


async def _asset_count(app: TransformApp) -> int:
    return len(await app.services.catalog.assets.list(limit=1000))


async def test_a_deployment_can_refuse_offline_transforms(tmp_path: Path) -> None:
    settings = transform_settings(tmp_path / "data", transform={"offline_fallback": False})
    async with transform_app(settings, environ={}) as app:
        fields = {"scene_description": DESCRIPTION}
        response = await _post_form(app, fields, encoded(astronaut()))
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "NOT_CONFIGURED"
        assert "REPLICATE_API_TOKEN" in error["details"]["env_vars"]
        # Refused: nothing was kept, not even the upload.
        assert await _asset_count(app) == 0
        transforms = await TransformRepository.on(app.services.catalog).list(limit=10)
        assert transforms == []
        async with httpx.AsyncClient(timeout=30) as http:
            page = (await http.get(f"{app.base_url}/cinematic-switch")).text
        assert "requests are refused here" in page


async def test_a_photo_transform_offline_with_the_local_studio(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = transform_settings(tmp_path / "data")
    with structlog.testing.capture_logs() as structured:
        async with transform_app(settings, environ={}) as app:
            marker = "zebra-striped-marker"
            fields = {
                "scene_description": f"{DESCRIPTION} ({marker})",
                "style_preset": "noir",
                "output_count": "2",
            }
            response = await _post_form(app, fields, encoded(astronaut()))
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["success"] is True
            result = body["result"]
            assert (result["provider"], result["task"], result["success"]) == (
                "LOCAL",
                "IMAGE_GENERATION",
                True,
            )
            data = result["data"]
            assert data["variation_count"] == 2
            assert data["model_used"] == "reelforge-filter-1"
            assert isinstance(data["processing_time"], float)
            # Said plainly: a style look, not a transform (the spec allows no local processing).
            (offline,) = data["warnings"]
            assert offline.startswith("Offline: no transform provider is configured")
            assert "REPLICATE_API_TOKEN" in offline
            for url, score in zip(
                data["transformed_media_urls"], data["identity"]["scores"], strict=True
            ):
                picture = decoded(await _fetch(app, url))
                assert picture.size == (512, 512)
                assert score["passed"] is True
                assert score["distance"] < 0.6
            # noir is black and white: the output really is the styled photo
            first = decoded(await _fetch(app, data["transformed_media_urls"][0]))
            pixels = np.asarray(first).astype(int)
            assert np.abs(pixels[..., 0] - pixels[..., 2]).max() <= 1

            record = await TransformRepository.on(app.services.catalog).get(data["transform_id"])
            assert record.status == "succeeded"
            assert (record.media_kind, record.media_content_type) == ("image", "image/png")
            assert record.description is None
            assert record.input_kept is False
            assert record.input_asset_id is None
            assert [o.identity_passed for o in record.outputs] == [True, True]
            # The upload is gone; only the two outputs remain.
            assert await _asset_count(app) == 2
            async with httpx.AsyncClient(timeout=30) as http:
                shown = (await http.get(f"{app.base_url}/v1/transforms/{record.id}")).json()
            assert (shown["status"], shown["variation_count"], shown["description"]) == (
                "succeeded",
                2,
                None,
            )
            assert shown["description_chars"] == len(fields["scene_description"])
            assert all(o["identity"]["passed"] for o in shown["outputs"])
    # Our events, and every record at INFO and above (driver DEBUG output echoes SQL).
    assert "transform.completed" in repr(structured)
    assert marker not in repr(structured)
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert marker not in " ".join(f"{r.getMessage()} {r.__dict__!r}" for r in records)


async def test_a_photo_transform_on_replicate_with_the_upload_kept(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = transform_settings(tmp_path / "data", emulator_server.base_url)
    async with transform_app(settings, environ=HOSTED_ENV) as app:
        response = await _post_form(
            app,
            {"scene_description": DESCRIPTION, "aspect_ratio": "16:9", "keep_upload": "true"},
            encoded(astronaut(), "JPEG"),
        )
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["provider"] == "REPLICATE"
        data = result["data"]
        assert data["model_used"] == "black-forest-labs/flux-dev"
        assert data["variation_count"] == 1
        output = decoded(await _fetch(app, data["transformed_media_urls"][0]))
        assert output.width > output.height  # 16:9
        # The emulator draws a previz frame, not the person: the identity check says so.
        assert data["identity"]["scores"][0]["passed"] is False

        ledger = await emulator.ledger("replicate")
        assert len(ledger["billed"]) == 1
        assert ledger["billed"][0]["model"] == "black-forest-labs/flux-dev"
        record = await TransformRepository.on(app.services.catalog).get(data["transform_id"])
        assert record.input_kept is True
        assert record.description == DESCRIPTION
        assert record.input_asset_id is not None
        kept = await app.services.assets.get(record.input_asset_id)
        assert kept.content_type == "image/jpeg"
        # The kept upload and the output; the 16:9 reframing made for Replicate is gone.
        assert await _asset_count(app) == 2


async def test_a_video_goes_to_leonardo_when_runway_fails(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.inject("runway", "generate", "failed", count=None)
    settings = transform_settings(
        tmp_path / "data", emulator_server.base_url, transform={"video_duration_s": 2}
    )
    async with transform_app(settings, environ=HOSTED_ENV) as app:
        clip = small_mp4()
        async with httpx.AsyncClient(timeout=90) as http:
            response = await http.post(
                f"{app.base_url}/dev/run",
                json={
                    "provider": "RUNWAY",
                    "task": "VIDEO_GENERATION",
                    "payload": {
                        "video": base64.b64encode(clip).decode(),
                        "scene_description": DESCRIPTION,
                    },
                },
            )
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert (result["provider"], result["task"]) == ("LEONARDO", "VIDEO_GENERATION")
        data = result["data"]
        assert data["variation_count"] == 1
        assert data["warnings"] == ["RUNWAY failed; used LEONARDO."]
        assert data["transformed_media_urls"][0].endswith(".mp4")
        assert len(await _fetch(app, data["transformed_media_urls"][0])) > 1000
        runway = await emulator.ledger("runway")
        leonardo = await emulator.ledger("leonardo")
        assert runway["providers"]["runway"]["calls"]["submit"] == 1  # no retry
        assert runway["billed"] == []
        assert len(leonardo["billed"]) == 1
        record = await TransformRepository.on(app.services.catalog).get(data["transform_id"])
        assert (record.provider, record.media_kind) == ("leonardo", "video")
        assert record.fallback_run_id is not None


async def test_three_variations_one_failing_is_a_partial_success(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.inject("replicate", "generate", "failed", count=1)
    settings = transform_settings(tmp_path / "data", emulator_server.base_url)
    async with transform_app(settings, environ=HOSTED_ENV) as app:
        response = await _post_form(
            app, {"scene_description": DESCRIPTION, "output_count": "3"}, encoded(astronaut())
        )
        assert response.status_code == 200, response.text
        data = response.json()["result"]["data"]
        assert data["variation_count"] == 2
        assert len(data["transformed_media_urls"]) == 2
        assert len(data["warnings"]) == 1
        assert data["warnings"][0] in {f"Failed to generate variation {n}" for n in (1, 2, 3)}
        ledger = await emulator.ledger("replicate")
        assert (
            ledger["providers"]["replicate"]["calls"].get("create", 0)
            + ledger["providers"]["replicate"]["calls"].get("submit", 0)
            >= 3
        )
        assert len(ledger["billed"]) == 2
        record = await TransformRepository.on(app.services.catalog).get(data["transform_id"])
        assert (record.status, record.variation_count) == ("partial", 2)


async def test_a_provider_error_and_a_timeout_in_the_specs_words(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    # Settings are given to the service when it is built: each phase is an app of its own
    # over the same data directory.
    data_dir = tmp_path / "data"
    await emulator.inject("replicate", "generate", "failed", count=1)
    settings = transform_settings(data_dir, emulator_server.base_url)
    async with transform_app(settings, environ=HOSTED_ENV) as app:
        response = await _post_form(app, {"scene_description": DESCRIPTION}, encoded(astronaut()))
        assert response.status_code == 502
        error = response.json()["error"]
        assert error["code"] == "REPLICATE_ERROR"
        assert error["message"] == "Replicate API error: Image transformation failed"
        assert "originalError" in error["details"]

    await emulator.configure(latency_s=30.0)
    timeout = {"request_timeout_s": 1.0}
    impatient = transform_settings(data_dir, emulator_server.base_url, transform=timeout)
    async with transform_app(impatient, environ=HOSTED_ENV) as app:
        response = await _post_form(app, {"scene_description": DESCRIPTION}, encoded(astronaut()))
        assert response.status_code == 504
        assert response.json()["error"] == {
            "code": "TIMEOUT",
            "message": "AI task timed out after 1 seconds",
            "details": {
                "provider": "REPLICATE",
                "task": "IMAGE_GENERATION",
                "timeout_seconds": 1.0,
            },
            "statusCode": 504,
        }

    # The provider's own timeout: the job gives up at Replicate, the request waits longer.
    patient = {"request_timeout_s": 30.0, "provider_timeouts_s": {"replicate": 1.5}}
    settings = transform_settings(data_dir, emulator_server.base_url, transform=patient)
    async with transform_app(settings, environ=HOSTED_ENV) as app:
        response = await _post_form(app, {"scene_description": DESCRIPTION}, encoded(astronaut()))
        assert response.status_code == 504
        error = response.json()["error"]
        assert (error["code"], error["message"]) == (
            "TIMEOUT",
            "AI task timed out after 1.5 seconds",
        )
        assert (await emulator.ledger("replicate"))["billed"] == []

        failed = await TransformRepository.on(app.services.catalog).list()
        assert [t.error_code for t in failed] == ["TIMEOUT", "TIMEOUT", "REPLICATE_ERROR"]
        assert await _asset_count(app) == 0  # every upload deleted, nothing made


@pytest.mark.parametrize("where", ["envelope", "form"])
async def test_a_dry_run_prices_the_plan_and_calls_no_provider(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl, where: str
) -> None:
    settings = transform_settings(tmp_path / "data", emulator_server.base_url)
    async with transform_app(settings, environ=HOSTED_ENV, engine=False) as app:
        photo = encoded(astronaut())
        if where == "form":
            response = await _post_form(
                app,
                {"scene_description": DESCRIPTION, "output_count": "2", "dry_run": "true"},
                photo,
            )
        else:
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.post(
                    f"{app.base_url}/dev/run",
                    json={
                        "provider": "REPLICATE",
                        "task": "IMAGE_GENERATION",
                        "dry_run": True,
                        "payload": {
                            "image": "data:image/png;base64," + base64.b64encode(photo).decode(),
                            "prompt": "Transform this person into a medieval knight.",
                            "output_count": 2,
                        },
                    },
                )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["result"]
        assert result["dry_run"] is True
        assert result["provider"] == "REPLICATE"
        data = result["data"]
        assert data["total_usd"] == "0.05"
        assert [job["model"] for job in data["per_job"]] == ["black-forest-labs/flux-dev"] * 2
        assert [job["label"] for job in data["plan"]["jobs"]] == ["variation-1", "variation-2"]
        assert (await emulator.ledger())["calls"] == []
        assert await _asset_count(app) == 0
