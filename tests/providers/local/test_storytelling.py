"""Previz that tells the story: staging from the camera notes and the words, figures drawn
from their signatures, the same set across the shots of a scene, text kept out of the
picture. Checked on the layout record and the pixels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from skimage.metrics import structural_similarity

from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.dressing import Seen
from reelforge.providers.local.looks import Look, expression_for, look_from
from reelforge.providers.local.previz import Previz, draw_previz

MARA = CharacterBrief("Mara", "lighthouse keeper in her sixties, silver hair in a braid, "
                      "yellow oilskin coat, red scarf")  # fmt: skip
TOMAS = CharacterBrief("Tomas", "young fisherman, curly black hair, navy wool sweater")
HARBOUR = (
    "At the harbour at dawn, Tomas waits on the pier beside his small green boat. Over "
    "Tomas's shoulder we see Mara walking down the pier. Mara hands the letter to Tomas."
)
STREET = "A city street at night: a car under a lamp post. Mara runs past the car."


def shot(
    description: str,
    camera: str,
    *cast: CharacterBrief,
    seed: int = 3,
    scene: str = "",
    scene_text: str = "",
    size: tuple[int, int] = (640, 360),
) -> Previz:
    brief = SceneBrief("F1", description, camera, "golden hour", "", cast, scene, scene_text)
    return draw_previz(brief, width=size[0], height=size[1], seed=seed)


def inside(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    x0, y0, x1, y1 = box
    return x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height and x0 < x1 and y0 < y1


def figure(previz: Previz, name: str) -> Seen:
    return next(seen for seen in previz.layout.figures if seen.name == name)


@pytest.mark.parametrize("cast", [(MARA, TOMAS), (TOMAS, MARA)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_over_the_shoulder_looks_over_the_named_character_at_the_other(
    cast: tuple[CharacterBrief, ...], seed: int
) -> None:
    previz = shot("Over Tomas's shoulder we see Mara walking down the pier towards him.",
                  "over-the-shoulder, push-in", *cast, seed=seed)  # fmt: skip
    tomas, mara = figure(previz, "Tomas"), figure(previz, "Mara")
    assert (tomas.facing, mara.facing) == ("back", "front")
    assert previz.layout.subject == "Mara"
    # Tomas is the foreground: larger, lower, off to one side; Mara's face is in frame.
    assert tomas.box[3] - tomas.box[1] > mara.box[3] - mara.box[1]
    assert tomas.face[1] > mara.face[1]
    assert abs((tomas.box[0] + tomas.box[2]) / 2 - 320) > 0.25 * 640
    assert inside(mara.face, 640, 360)
    # Drawn in that order: whose shoulder it is decides, not the order of the cast.
    assert [seen.name for seen in previz.layout.figures] == ["Mara", "Tomas"]


def test_the_shoulder_may_be_named_in_the_camera_notes() -> None:
    previz = shot("Tomas listens.", "OTS over Mara's shoulder", TOMAS, MARA)
    assert (figure(previz, "Mara").facing, figure(previz, "Tomas").facing) == ("back", "front")


def test_close_ups_frame_the_face_or_the_hands_the_words_name() -> None:
    face = shot("Close-up on Mara's face, a small smile.", "close-up", MARA)
    hands = shot("Close-up of Mara's hands unfolding an old letter.", "close-up, static", MARA)
    mara_face = figure(face, "Mara").face
    assert inside(mara_face, 640, 360)
    assert mara_face[1] < 360 * 0.4
    assert mara_face[3] - mara_face[1] > 0.3 * 360, "the face fills the frame"
    assert figure(hands, "Mara").face[3] <= 0, "the hands' close-up leaves the face out"
    (letter,) = [t for t in hands.layout.things if t.name == "letter"]
    centre = ((letter.box[0] + letter.box[2]) / 2, (letter.box[1] + letter.box[3]) / 2)
    assert abs(centre[0] - 320) < 0.1 * 640
    assert 0.3 * 360 < centre[1] < 0.8 * 360
    assert letter.visible > 0.9


def test_looks_and_expressions_from_the_words() -> None:
    assert look_from(MARA.visual_signature) == Look(hair_style="braid", old=True, coat=True,
                                                    scarf=True)  # fmt: skip
    assert look_from("round glasses, bald, grey beard, felt hat") == Look(
        hair_style="bald", old=True, glasses=True, hat=True, beard=True
    )
    assert look_from(TOMAS.visual_signature) == Look(hair_style="curly", young=True)
    assert look_from("navy coat, grey wool hat").old is False  # grey clothes are no age
    assert expression_for("Mara", "Close-up on Mara's face, a small smile.", alone=True) == "smile"
    assert expression_for("Mara", "Mara gasps in fear; Tomas grins.", alone=False) == "fear"
    assert expression_for("Tomas", "Mara gasps in fear; Tomas grins.", alone=False) == "smile"
    assert expression_for("Tomas", "Tomas shouts, furious.", alone=True) == "anger"
    assert expression_for("Mara", "Mara waits on the pier.", alone=True) == "neutral"
    assert expression_for("Mara", "Tomas smiles at Mara's letter.", alone=False) == "smile"


def test_the_face_shows_the_expression_and_nothing_else_changes() -> None:
    pictures = {
        word: shot(f"Mara {word} at the camera.", "close-up", MARA)
        for word in ("looks", "smiles", "scowls", "stares in fear")
    }
    assert [figure(p, "Mara").expression for p in pictures.values()] == [
        "neutral", "smile", "anger", "fear"
    ]  # fmt: skip
    x0, y0, x1, y1 = figure(pictures["looks"], "Mara").face
    plain = np.asarray(pictures["looks"].image, np.int16)
    inside = np.zeros(plain.shape[:2], bool)
    inside[max(y0, 0) : y1, max(x0, 0) : x1] = True
    for word in ("smiles", "scowls", "stares in fear"):
        changed = np.abs(np.asarray(pictures[word].image, np.int16) - plain).max(axis=2) > 0
        assert changed[inside].sum() > 20, word
        assert not changed[~inside].any(), word


def test_figures_get_eyes_and_a_mouth() -> None:
    """A front close-up's face holds ink-dark pixels (eyes, mouth); the back of a head none."""
    previz = shot("Mara looks at the camera.", "close-up", MARA)
    x0, y0, x1, y1 = figure(previz, "Mara").face
    face = np.asarray(previz.image, np.int16)[y0 + (y1 - y0) // 3 : y1, x0:x1]
    dark = face.max(axis=2) < 90
    assert dark.sum() > 30
    rows = np.nonzero(dark.any(axis=1))[0]
    assert rows.max() - rows.min() > (y1 - y0) * 0.2, "eyes and, lower, a mouth"


def grey(previz: Previz) -> npt.NDArray[np.uint8]:
    return np.asarray(previz.backdrop.convert("L"))


def similarity(a: Previz, b: Previz) -> float:
    score = structural_similarity(grey(a), grey(b), data_range=255)  # type: ignore[no-untyped-call]
    return float(score)


def test_every_shot_of_a_scene_stands_in_the_same_set() -> None:
    def harbour(description: str, camera: str, *cast: CharacterBrief, seed: int) -> Previz:
        return shot(description, camera, *cast, seed=seed, scene="SCENE_2", scene_text=HARBOUR)

    wide = harbour("Tomas waits on the pier beside his small green boat.", "wide", TOMAS, seed=1)
    two = harbour("Mara hands the letter to Tomas.", "medium two-shot", MARA, TOMAS, seed=2)
    ots = harbour("Over Tomas's shoulder we see Mara.", "over the shoulder", MARA, TOMAS, seed=3)
    street = shot("Mara runs past the car.", "wide", MARA, seed=1, scene="SCENE_3",
                  scene_text=STREET)  # fmt: skip
    assert similarity(wide, two) > 0.9
    assert similarity(wide, ots) > 0.85  # the over-the-shoulder softens the set behind
    assert similarity(wide, street) < 0.7
    # The set holds what the whole scene names, though this shot's words name none of it.
    assert {"pier", "boat"} <= {t.name for t in two.layout.things}
    # Without a scene, each shot draws its own place.
    alone = [
        shot("Tomas waits on the pier beside his small green boat.", "wide", TOMAS, seed=1),
        shot("Mara hands the letter to Tomas on the pier.", "medium two-shot", MARA, TOMAS,
             seed=2),
    ]  # fmt: skip
    assert similarity(*alone) < similarity(wide, two) - 0.15


def test_the_set_follows_the_camera_angle() -> None:
    def horizon_row(camera: str) -> int:
        previz = shot("Tomas waits.", camera, TOMAS, scene="S", scene_text=HARBOUR)
        column = np.asarray(previz.backdrop.convert("L"), np.int16)[:, 5]
        return int(np.argmax(np.abs(np.diff(column))))

    assert horizon_row("wide, high angle") < horizon_row("wide") < horizon_row("wide, low angle")
    assert horizon_row("wide") == horizon_row("medium")  # one horizon for the scene


def test_no_text_in_the_picture() -> None:
    """The description, frame id and names are in the record, not in the pixels."""
    one = shot("Mara waits. A caption of a few words.", "medium", MARA)
    other = shot("Mara waits. " + "Quite another caption, far longer than the first. " * 4,
                 "medium", MARA)  # fmt: skip
    assert one.image.tobytes() == other.image.tobytes()
    assert one.layout.caption != other.layout.caption
    assert one.layout.heading == "F1 · MEDIUM"


def test_near_pieces_named_once_stay_in_their_own_shot() -> None:
    """A scene that starts outside and goes in: the lighthouse and cliff stand in every shot;
    the stairs and window inside, named once, only in the shot that names them."""
    words = "A lighthouse on a black cliff. Inside, Mara climbs the stairs by a tiny window."

    def names(description: str, camera: str) -> set[str]:
        previz = shot(description, camera, MARA, scene="SCENE_1", scene_text=words)
        return {thing.name for thing in previz.layout.things}

    assert names("A lighthouse on a black cliff.", "wide") == {"lighthouse", "cliff"}
    inside = names("Inside, Mara climbs the stairs by a tiny window.", "medium")
    assert {"stairs", "window", "lighthouse", "cliff"} <= inside


def test_a_figure_the_words_put_on_a_far_set_stands_on_it() -> None:
    words = "The green boat leaves the harbour; Mara watches from the lighthouse gallery."
    previz = shot(words, "high angle wide shot", MARA, scene="SCENE_3", scene_text=words)
    (lighthouse,) = [t for t in previz.layout.things if t.name == "lighthouse"]
    mara = figure(previz, "Mara")
    assert lighthouse.box[0] <= (mara.box[0] + mara.box[2]) / 2 <= lighthouse.box[2]
    assert lighthouse.box[1] <= mara.box[3] < (lighthouse.box[1] + lighthouse.box[3]) / 2
    on_the_ground = shot("Mara watches the green boat leave.", "high angle wide shot", MARA,
                         scene="SCENE_3", scene_text=words)  # fmt: skip
    assert figure(on_the_ground, "Mara").box[3] > lighthouse.box[3]
