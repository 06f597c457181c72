"""The Character Library: the sibling service that makes character reference, 360° and scene
images (spec: character-image-workspace.md).

:mod:`.adapter` is the provider and documents the request/response shapes assumed;
:mod:`.calls` turns a generic request into a library call; :mod:`.wire` reads the answers
(finished images and errors).
"""

from __future__ import annotations

from reelforge.providers.character_library.adapter import (
    CharacterLibraryOptions,
    CharacterLibraryProvider,
    CharacterLibrarySettings,
)
from reelforge.providers.character_library.wire import (
    URL_ENV,
    CharacterLibraryError,
    LibraryKind,
    character_library_error,
)

__all__ = [
    "URL_ENV",
    "CharacterLibraryError",
    "CharacterLibraryOptions",
    "CharacterLibraryProvider",
    "CharacterLibrarySettings",
    "LibraryKind",
    "character_library_error",
]
