"""The diffusers provider: diffusion pipelines on this machine's GPU, batched (see .provider)."""

from reelforge.providers.diffusers.errors import DiffusersError
from reelforge.providers.diffusers.provider import DiffusersOptions, DiffusersProvider
from reelforge.providers.diffusers.settings import DiffusersSettings

__all__ = ["DiffusersError", "DiffusersOptions", "DiffusersProvider", "DiffusersSettings"]
