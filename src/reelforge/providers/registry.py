"""The explicit map from provider id to adapter class, and the registry that builds adapters.

Adapters are built lazily, on first use, from their own settings section, so a provider whose
key is missing never stops the others from working; asking for it gives the missing-key error.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pydantic import ValidationError

from reelforge.errors import ConfigurationError, InvalidInput
from reelforge.providers.base import Provider, ProviderDeps
from reelforge.providers.character_library import CharacterLibraryProvider
from reelforge.providers.fal import FalProvider
from reelforge.providers.google import GoogleProvider
from reelforge.providers.leonardo import LeonardoProvider
from reelforge.providers.local.studio import LocalStudio
from reelforge.providers.replicate import ReplicateProvider
from reelforge.providers.runway import RunwayProvider
from reelforge.settings import Settings
from reelforge.validation import validation_problems

__all__ = ["PROVIDER_CLASSES", "ProviderRegistry"]

PROVIDER_CLASSES: Final[Mapping[str, type[Provider]]] = MappingProxyType(
    {
        LocalStudio.id: LocalStudio,
        FalProvider.id: FalProvider,
        ReplicateProvider.id: ReplicateProvider,
        RunwayProvider.id: RunwayProvider,
        GoogleProvider.id: GoogleProvider,
        LeonardoProvider.id: LeonardoProvider,
        CharacterLibraryProvider.id: CharacterLibraryProvider,
    }
)


class ProviderRegistry:
    """Builds and caches one adapter per provider id."""

    def __init__(
        self,
        settings: Settings,
        deps: ProviderDeps,
        classes: Mapping[str, type[Provider]] = PROVIDER_CLASSES,
    ) -> None:
        unknown = sorted(set(settings.providers) - set(classes))
        if unknown:
            raise ConfigurationError(
                f"Settings name unknown providers: {', '.join(unknown)}.",
                details={"unknown": unknown, "known": sorted(classes)},
            )
        if settings.default_provider not in classes:
            raise ConfigurationError(
                f"The default provider {settings.default_provider!r} is not a known provider.",
                details={"known": sorted(classes)},
            )
        self._settings = settings
        self._deps = deps
        self._classes = classes
        self._instances: dict[str, Provider] = {}

    @property
    def ids(self) -> list[str]:
        return sorted(self._classes)

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment the adapters read their keys from (names only are ever shown)."""
        return self._deps.environ

    @property
    def default_id(self) -> str:
        return self._settings.default_provider

    def provider_class(self, provider_id: str) -> type[Provider]:
        try:
            return self._classes[provider_id]
        except KeyError:
            raise InvalidInput(
                f"Unknown provider {provider_id!r}.",
                details={"provider": provider_id, "known": sorted(self._classes)},
            ) from None

    def get(self, provider_id: str | None = None) -> Provider:
        """The adapter for ``provider_id`` (the default provider when None)."""
        provider_id = provider_id or self.default_id
        if provider_id in self._instances:
            return self._instances[provider_id]
        cls = self.provider_class(provider_id)
        section = self._settings.provider_section(provider_id)
        try:
            provider_settings = cls.settings_model.model_validate(section)
        except ValidationError as exc:
            fields = [problem["field"] for problem in validation_problems(exc.errors())]
            raise ConfigurationError(
                f"Invalid settings for provider {provider_id!r}: {', '.join(fields)}.",
                details={"provider": provider_id, "fields": fields},
            ) from None
        provider = cls(provider_settings, self._deps)
        self._instances[provider_id] = provider
        return provider

    async def aclose(self) -> None:
        for provider in self._instances.values():
            await provider.aclose()
        self._instances.clear()
