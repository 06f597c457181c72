"""The explicit list of emulated providers, each mounted by the emulator app under ``/{id}``.

To add a provider: write ``emulator/<id>.py`` with a subclass of
:class:`reelforge.emulator.base.EmulatedProvider` and add its class here.
"""

from __future__ import annotations

from typing import Final

from reelforge.emulator.base import EmulatedProvider
from reelforge.emulator.character_library import CharacterLibraryEmulator
from reelforge.emulator.comfyui import ComfyUIEmulator
from reelforge.emulator.fal import FalEmulator
from reelforge.emulator.google import GoogleEmulator
from reelforge.emulator.leonardo import LeonardoEmulator
from reelforge.emulator.replicate import ReplicateEmulator
from reelforge.emulator.runway import RunwayEmulator

__all__ = ["EMULATED_PROVIDERS"]

EMULATED_PROVIDERS: Final[tuple[type[EmulatedProvider], ...]] = (
    FalEmulator,
    ReplicateEmulator,
    RunwayEmulator,
    GoogleEmulator,
    LeonardoEmulator,
    CharacterLibraryEmulator,
    ComfyUIEmulator,
)
