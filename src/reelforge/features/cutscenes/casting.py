"""Who is in a cutscene's still, and the reference images that go with it.

A trigger's ``characters`` are workspace character ids or names (the spec's names, as a story
app writes them). Each entry is looked up in the workspace (:mod:`reelforge.references`: by id,
else by name, any case): a workspace character is named in the prompt by its own name and sends
its newest reference image; any other entry is a name the prompt carries as given. An entry
shaped like a workspace id (32 hex digits) that names no character is refused with
``NOT_FOUND``: it was meant as an id, and a still of the wrong person is worse than none.

The still sends its cast's references, in order, up to what the image provider takes per
text-to-image request, to the model the provider names for such requests; a provider that takes
none draws from the text alone, and the plan says so (``fallback_to_text``), as key frames do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reelforge.errors import NotFound
from reelforge.references import (
    CharacterReferences,
    FrameReferences,
    Reference,
    ReferenceResolver,
    frame_references,
)

__all__ = ["CastMember", "StillCast", "cast_of"]

_WORKSPACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class CastMember:
    """One entry of a trigger's ``characters``: as given, the name the prompt uses, and the
    workspace character and reference it stands for (None: a name only, or no reference yet)."""

    given: str
    name: str
    character_id: str | None = None
    reference: Reference | None = None

    @property
    def reference_image_url(self) -> str | None:
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "given": self.given,
            "name": self.name,
            "character_id": self.character_id,
            "reference": None if self.reference is None else self.reference.label,
        }


@dataclass(frozen=True, slots=True)
class StillCast:
    """The still's cast and the references it sends."""

    members: tuple[CastMember, ...]
    references: FrameReferences

    @property
    def names(self) -> list[str]:
        return [member.name for member in self.members]

    def scene_characters(self) -> list[dict[str, Any]]:
        """The cast as the local studio's scene brief takes it: each name, with the index of
        its reference among those sent (the studio draws that character from it)."""
        labels = [reference.label for reference in self.references.sent]
        found: list[dict[str, Any]] = []
        for member in self.members:
            entry: dict[str, Any] = {"name": member.name}
            if member.reference is not None and member.reference.label in labels:
                entry["reference"] = labels.index(member.reference.label)
            found.append(entry)
        return found

    @property
    def reference_asset_ids(self) -> tuple[str, ...]:
        return tuple(r.asset_id for r in self.references.sent if r.asset_id is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "characters": [member.to_json() for member in self.members],
            "references": [r.label for r in self.references.sent],
            "references_left_out": [r.label for r in self.references.left_out],
            "fallback_to_text": self.references.fallback_to_text,
        }


async def cast_of(
    characters: Sequence[str],
    workspace: CharacterReferences,
    resolver: ReferenceResolver,
    limit: int,
) -> StillCast:
    """The cast of ``characters`` and the references a provider taking ``limit`` gets."""
    members: list[CastMember] = []
    for index, given in enumerate(characters):
        found = await workspace.lookup(given)
        if found is None:
            if _WORKSPACE_ID.match(given):
                raise NotFound(
                    f"characters[{index}] ({given!r}) looks like a workspace character id, but "
                    "there is no such character.",
                    details={"field": f"characters[{index}]", "character_id": given},
                )
            members.append(CastMember(given, given))
            continue
        character_id, name = found
        reference = await resolver.of_character(character_id, field=f"characters[{index}]")
        members.append(CastMember(given, name, character_id, reference))
    by_name = {m.name: (m.reference,) for m in members if m.reference is not None}
    return StillCast(tuple(members), frame_references(members, by_name, limit))
