"""Previz stills: sizes, determinism, and composition measured on the pixels."""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageFont

from reelforge.errors import InvalidInput
from reelforge.imaging.sizes import ASPECT_RATIOS, resolve_size
from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.captions import storyboard_panel
from reelforge.providers.local.palette import figure_colours, name_colour, palette_for
from reelforge.providers.local.previz import Shot, draw_previz, parse_shot, render_previz

LIME = (150, 210, 60)  # "lime" in the signature colour table
MARA = CharacterBrief("Mara", "lime coat, silver hair")
JONAH = CharacterBrief("Jonah", "navy jacket, red scarf")


def brief(camera: str = "", mood: str = "", *cast: CharacterBrief, text: str = "") -> SceneBrief:
    return SceneBrief(
        frame_id="12A",
        description=text or "Mara waits on the platform as the last train pulls away.",
        camera_notes=camera,
        lighting_mood=mood,
        characters=cast,
    )


def pixels(image: Image.Image) -> npt.NDArray[np.int16]:
    return np.asarray(image, dtype=np.int16)


def colour_share(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 18) -> float:
    """Fraction of pixels within ``tolerance`` (per channel) of ``colour``."""
    close = np.abs(pixels(image) - np.array(colour)).max(axis=2) <= tolerance
    return float(close.mean())


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
def test_every_aspect_ratio_renders(ratio: str) -> None:
    width, height = resolve_size(ratio, 640, 360)
    image = render_previz(brief("medium", "dawn", MARA, JONAH), width=width, height=height, seed=3)
    assert image.mode == "RGB"
    assert image.size == (width, height)


def test_same_seed_same_pixels_other_seed_other_details() -> None:
    scene = brief("wide", "golden hour", MARA, JONAH)
    first = render_previz(scene, width=480, height=270, seed=42)
    assert first.tobytes() == render_previz(scene, width=480, height=270, seed=42).tobytes()
    other = pixels(render_previz(scene, width=480, height=270, seed=43))
    assert float(np.abs(other - pixels(first)).mean()) > 2.0


@pytest.mark.parametrize("size", [(63, 100), (100, 5000), (0, 0)])
def test_bad_size_is_invalid_input(size: tuple[int, int]) -> None:
    with pytest.raises(InvalidInput):
        render_previz(brief(), width=size[0], height=size[1], seed=1)


def test_works_without_system_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any font looked up by name or path fails, as on a machine with no fonts installed; only
    fonts given as bytes (Pillow's bundled one) still load."""
    truetype = ImageFont.truetype

    def bundled_only(font: object = None, *args: object, **kwargs: object) -> object:
        if font is None or isinstance(font, (str, bytes, os.PathLike)):
            raise OSError("cannot open resource")
        return truetype(font, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ImageFont, "truetype", bundled_only)
    image = render_previz(brief("close-up", "", MARA), width=320, height=180, seed=1)
    assert image.size == (320, 180)


@pytest.mark.parametrize(
    ("notes", "cast", "shot"),
    [
        ("Wide establishing shot", 2, Shot("wide", "eye_level")),
        ("EWS, high angle", 0, Shot("extreme_wide", "high")),
        ("close-up on Mara, slow push in", 1, Shot("close_up", "eye_level")),
        ("medium close-up", 1, Shot("close_up", "eye_level")),
        ("extreme close-up", 1, Shot("extreme_close_up", "eye_level")),
        ("OTS from Mara onto Jonah", 2, Shot("over_the_shoulder", "eye_level")),
        ("over-the-shoulder, low angle", 2, Shot("over_the_shoulder", "low")),
        ("two-shot, dutch angle", 2, Shot("two_shot", "dutch")),
        ("full shot from below", 1, Shot("full", "low")),
        ("bird's-eye view", 3, Shot("full", "overhead")),
        ("", 0, Shot("wide", "eye_level")),
        ("", 1, Shot("medium", "eye_level")),
        ("", 2, Shot("two_shot", "eye_level")),
    ],
)
def test_parse_shot(notes: str, cast: int, shot: Shot) -> None:
    assert parse_shot(notes, cast) == shot


def test_framing_sets_figure_size() -> None:
    """The lime-coated figure fills more of the frame as the camera comes closer."""
    shares = [
        colour_share(render_previz(brief(notes, "", MARA), width=640, height=360, seed=5), LIME)
        for notes in ("extreme wide", "wide", "full shot", "medium", "close-up")
    ]
    assert shares == sorted(shares)
    assert shares[0] < 0.003
    assert shares[-1] > 0.1


def sky_rows(image: Image.Image) -> int:
    """Rows of the picture whose middle pixel is sky blue (harsh daylight palette)."""
    middle = pixels(image)[:, image.width // 2]
    return int(np.count_nonzero(middle[:, 2] - middle[:, 0] > 40))


def test_camera_angle_moves_the_horizon() -> None:
    def rows(notes: str) -> int:
        scene = brief(notes, "harsh daylight", text="An empty field.")
        return sky_rows(render_previz(scene, width=480, height=270, seed=9))

    assert rows("wide, low angle") > rows("wide") > rows("wide, high angle") > 0
    assert rows("wide, overhead") == 0


@pytest.mark.parametrize(
    ("mood", "palette"),
    [
        ("film noir", "noir"),
        ("golden hour glow", "golden_hour"),
        ("neon-lit night", "neon"),
        ("cold dawn", "dawn"),
        ("moonlit", "moonlit"),
        ("overcast, drizzle", "overcast"),
        ("stormy dusk, cold blue with a warm beam", "overcast"),
        ("golden sunset fog", "golden_hour"),
        ("candlelit", "candlelit"),
        ("harsh daylight", "harsh_daylight"),
        ("something ineffable", "neutral"),
    ],
)
def test_palette_from_mood(mood: str, palette: str) -> None:
    assert palette_for(mood).mood == palette


def test_palettes_change_the_picture() -> None:
    def picture(mood: str) -> npt.NDArray[np.int16]:
        image = render_previz(brief("medium", mood, MARA), width=480, height=270, seed=4)
        return pixels(image)[40:200, 40:440]  # inside the frame, away from tags and caption

    golden, moon, noir = picture("golden hour"), picture("moonlit"), picture("noir")
    assert golden[..., 0].mean() > golden[..., 2].mean() + 30, "golden hour is warm"
    assert moon.mean() < golden.mean() - 40, "moonlight is dark"
    assert moon[..., 2].mean() > moon[..., 0].mean(), "and blue"
    assert np.array_equal(noir[..., 0], noir[..., 1]), "noir is black and white"
    assert np.array_equal(noir[..., 1], noir[..., 2])


def test_signature_colours_and_name_fallback() -> None:
    colours = figure_colours("Mara", "red scarf, silver hair, long charcoal coat")
    assert colours.accent == (196, 40, 40)
    assert colours.hair == (196, 198, 204)
    assert colours.body == (56, 58, 62)
    assert colours.long_garment
    assert figure_colours("Ines", "blonde, dark green jacket").hair == (232, 204, 128)
    plain = figure_colours("Theo", "tall, quiet")
    assert plain.body == name_colour("Theo") == name_colour(" theo ")
    assert name_colour("Theo") != name_colour("Thea")


def test_the_picture_holds_no_text_the_panel_sets_it_beside() -> None:
    long_text = "The storm breaks over the harbour as the ferry lurches away. " * 12
    previz = draw_previz(brief("", "", text=long_text), width=404, height=720, seed=1)
    other_id = draw_previz(SceneBrief("99Z", long_text), width=404, height=720, seed=1)
    assert previz.image.tobytes() == other_id.image.tobytes(), "no frame id in the picture"
    assert previz.layout.caption == " ".join(long_text.split())
    assert previz.layout.heading.startswith("12A")
    panel = storyboard_panel(previz.image, previz.layout, previz.palette)
    assert panel.width == 404
    band_height = panel.height - 720
    assert 40 < band_height < 0.35 * 720, "long captions are cut, not spilled over the picture"
    band = palette_for("").caption_bg
    bottom = pixels(panel)[-3:].reshape(-1, 3)
    assert (np.abs(bottom - np.array(band)).max(axis=1) == 0).mean() > 0.9
    other_panel = storyboard_panel(other_id.image, other_id.layout, other_id.palette)
    corner = (0, 0, 150, 40)
    assert other_panel.crop(corner).tobytes() != panel.crop(corner).tobytes(), "frame id top left"
