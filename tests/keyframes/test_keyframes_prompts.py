"""Prompt templates (format, rendering, hot reload, versions in the catalog) and the matching of
character names in storyboard text."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fixtures import services as services_fixtures
from reelforge.errors import ConfigurationError
from reelforge.features.keyframes.prompting import frame_prompts
from reelforge.features.keyframes.schemas import CharacterProfile, StoryboardFrame
from reelforge.prompts.characters import mentioned
from reelforge.prompts.library import BUNDLED_TEMPLATES, PromptLibrary
from reelforge.prompts.template import parse_template
from reelforge.services import Services

services = services_fixtures.services

TEMPLATE = """
description = "test"
style = "Ink wash, {aspect_ratio}."
positive = '''
{style}
{description}.
Featuring {characters}.
Camera: {camera_notes}.
Braces {{kept}}.
'''
negative = "blurry, text"
"""


def test_rendering_drops_lines_whose_slots_are_empty_and_tidies_stops() -> None:
    template = parse_template("t", TEMPLATE, source=Path("t.toml"))
    values = {
        "style": "Ink wash.",
        "description": "A storm at sea.",
        "characters": "",
        "camera_notes": " wide ",
    }
    assert template.render("positive", values) == (
        "Ink wash. A storm at sea. Camera: wide. Braces {kept}."
    )
    values["characters"] = "Mara (red scarf)"
    assert "Featuring Mara (red scarf)." in template.render("positive", values)
    # An ellipsis is the author's, not a doubled stop.
    values["description"] = "Wait..."
    assert "Wait..." in template.render("positive", values)


def test_an_unknown_slot_or_part_is_a_configuration_error_naming_it() -> None:
    template = parse_template("t", TEMPLATE, source=Path("t.toml"))
    with pytest.raises(ConfigurationError, match=r"\{camera_notes\}") as caught:
        template.render("positive", {"style": "", "description": "", "characters": ""})
    assert caught.value.details["unknown"] == ["camera_notes"]
    with pytest.raises(ConfigurationError, match="no part 'motion'"):
        template.render("motion", {})
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        parse_template("t", "positive = '''unclosed", source=Path("t.toml"))
    with pytest.raises(ConfigurationError, match="must be a string"):
        parse_template("t", "positive = 3", source=Path("t.toml"))


@pytest.mark.parametrize(
    ("text", "names", "found"),
    [
        ("Mara climbs the stairs", ["Mara"], ["Mara"]),
        ("MARA climbs", ["Mara"], ["Mara"]),
        ("Close-up of Mara's hands", ["Mara"], ["Mara"]),
        ("Close-up of Mara\u2019s hands", ["Mara"], ["Mara"]),
        ("Over Tomas' shoulder", ["Tomas"], ["Tomas"]),
        ("(Mara), waiting.", ["Mara"], ["Mara"]),
        ("seed: mara-lantern", ["Mara"], ["Mara"]),
        ("Tamara and the Maranatha choir", ["Mara"], []),
        ("old  Tom's boat", ["Old Tom"], ["Old Tom"]),
        ("Old-Tom waves", ["Old Tom"], ["Old Tom"]),
        ("Old Tom waves", ["Tom", "Old Tom"], ["Old Tom"]),
        ("Tom meets Old Tom", ["Tom", "Old Tom"], ["Tom", "Old Tom"]),
        ("Zoe smiles", ["Zoë"], ["Zoë"]),
        ("Jean Luc at the helm", ["Jean-Luc"], ["Jean-Luc"]),
        ("Nobody here", ["Mara", "Tomas"], []),
    ],
)
def test_character_names_are_matched_as_words(
    text: str, names: list[str], found: list[str]
) -> None:
    assert [names[i] for i in mentioned([text], names)] == found


def test_frame_prompts_carry_the_shared_style_and_each_frames_characters() -> None:
    template = parse_template(
        "keyframes",
        (BUNDLED_TEMPLATES / "keyframes.toml").read_text(encoding="utf-8"),
        source=BUNDLED_TEMPLATES / "keyframes.toml",
    )
    frames = [
        StoryboardFrame(
            frame_id="A",
            description="Over Tomas's shoulder, Mara walks down the pier.",
            camera_notes="over-the-shoulder",
            lighting_mood="golden hour",
            prompt_seed="pier-meeting",
        ),
        StoryboardFrame(frame_id="B", description="An empty harbour."),
    ]
    cast = [
        CharacterProfile(name="Mara", visual_signature="yellow oilskin coat, red scarf"),
        CharacterProfile(name="Tomas", visual_signature="navy wool sweater"),
    ]
    first, second = frame_prompts(frames, cast, template, aspect_ratio="16:9")
    style = template.render("style", {"aspect_ratio": "16:9"})
    assert first.prompt.startswith(style)
    assert second.prompt.startswith(style)
    assert "Mara (yellow oilskin coat, red scarf); Tomas (navy wool sweater)" in first.prompt
    assert "Camera: over-the-shoulder." in first.prompt
    assert "Lighting: golden hour." in first.prompt
    assert "Motif: pier-meeting." in first.prompt
    assert [c.name for c in first.characters] == ["Mara", "Tomas"]
    assert "Featuring" not in second.prompt
    assert "Camera:" not in second.prompt
    assert "watermark" in first.negative_terms
    assert first.negative_prompt == ", ".join(first.negative_terms)


async def test_an_edited_template_file_is_reloaded_and_versioned(
    services: Services, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    library = PromptLibrary(services.catalog.templates, templates_dir=folder)
    # No copy of one's own yet: the bundled file.
    bundled = await library.load("keyframes")
    assert bundled.source == BUNDLED_TEMPLATES / "keyframes.toml"
    assert bundled.version == 1
    assert await library.load("keyframes") is bundled  # unchanged: no read, no new version

    mine = folder / "keyframes.toml"
    shutil.copyfile(bundled.source, mine)
    copied = await library.load("keyframes")
    assert copied.source == mine
    assert copied.version == 1  # the same text is the same version

    mine.write_text(TEMPLATE, encoding="utf-8")
    edited = await library.load("keyframes")
    assert edited.version == 2
    assert edited.render("style", {"aspect_ratio": "4:3"}) == "Ink wash, 4:3."
    record = await services.catalog.templates.get("keyframes", 2)
    assert record.body == TEMPLATE

    # A same-size edit within the same clock tick is still seen (the inode or size differs,
    # or here the time, set explicitly, since filesystems tick coarsely).
    again = TEMPLATE.replace("Ink wash", "Ink-wash")
    mine.write_text(again, encoding="utf-8")
    stat = mine.stat()
    os.utime(mine, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert (await library.load("keyframes")).version == 3

    mine.write_text("positive = '''broken", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        await library.load("keyframes")


async def test_a_missing_template_names_where_it_looked(services: Services, tmp_path: Path) -> None:
    library = PromptLibrary(services.catalog.templates, templates_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="No prompt template named 'motion'"):
        await library.load("motion")
    with pytest.raises(Exception, match="not a prompt template name"):
        await library.load("../etc/passwd")
