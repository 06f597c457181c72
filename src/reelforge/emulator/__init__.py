"""The provider emulator: the hosted providers' wire formats on loopback, with no network and
no money.

One ASGI app (:func:`build_emulator_app`) serves every emulated provider under ``/{id}``, with
realistic bodies and real PNG/MP4 outputs from the local studio, injected latency and faults, a
ledger of every call and every billed generation, and signed webhooks. Run it with
``reelforge emulate`` or, in tests, with :class:`EmulatorServer`. The control API is documented
in :mod:`reelforge.emulator.app`; adding a provider in :mod:`reelforge.emulator.base`.
"""

from __future__ import annotations

from reelforge.emulator.app import build_emulator_app, emulator_context
from reelforge.emulator.base import EmulatedProvider, EmulatorContext
from reelforge.emulator.server import EmulatorServer, emulator_env, serve_emulator
from reelforge.emulator.state import EmulatorConfig, FaultKind, FaultRule

__all__ = [
    "EmulatedProvider",
    "EmulatorConfig",
    "EmulatorContext",
    "EmulatorServer",
    "FaultKind",
    "FaultRule",
    "build_emulator_app",
    "emulator_context",
    "emulator_env",
    "serve_emulator",
]
