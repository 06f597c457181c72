"""The explicit map from provider id to adapter class, and the registry that builds adapters.

Adding a provider is one line in :data:`PROVIDER_CLASSES` (and its package): everything else
about it is declared on its adapter class and read from here. :meth:`ProviderRegistry.resolve`
is the one name resolver and capability check, for every feature and the engine: a provider's
id, one of its aliases (``Provider.aliases``, the specs' names) or its id with a spec's ``-ai`` /
``_ai`` / ``.ai`` suffix, case-insensitively; an unknown name is :class:`UnknownProvider`, a
provider that cannot do what is asked :class:`UnsupportedCapability`.

Every provider's settings are checked when the registry is built, at start-up
(:mod:`reelforge.providers.settings_check`): a bad entry stops the process there, naming the
setting. Adapters are built lazily, on first use, so a provider whose key is missing never stops
the others from working; asking for it gives the missing-key error. :meth:`ProviderRegistry.setup`
says which providers are configured and from which variable each reads its key: names only,
never a value (``reelforge serve`` and ``reelforge worker`` log it at start-up).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from reelforge.errors import ConfigurationError, ReelforgeError
from reelforge.providers.base import (
    Capability,
    CharacterKeeper,
    Provider,
    ProviderDeps,
    UnknownProvider,
    UnsupportedCapability,
)
from reelforge.providers.character_library import CharacterLibraryProvider
from reelforge.providers.comfyui import ComfyUIProvider
from reelforge.providers.diffusers import DiffusersProvider
from reelforge.providers.fal import FalProvider
from reelforge.providers.google import GoogleProvider
from reelforge.providers.leonardo import LeonardoProvider
from reelforge.providers.local.studio import LocalStudio
from reelforge.providers.replicate import ReplicateProvider
from reelforge.providers.runway import RunwayProvider
from reelforge.providers.settings_check import check_references, validated_sections
from reelforge.settings import Settings

__all__ = [
    "PROVIDER_CLASSES",
    "ProviderClasses",
    "ProviderRegistry",
    "ProviderSetup",
    "UnknownProvider",
    "UnsupportedCapability",
    "vendor_error_codes",
]

ProviderClasses = Mapping[str, type[Provider]]

PROVIDER_CLASSES: Final[ProviderClasses] = MappingProxyType(
    {
        LocalStudio.id: LocalStudio,
        FalProvider.id: FalProvider,
        ReplicateProvider.id: ReplicateProvider,
        RunwayProvider.id: RunwayProvider,
        GoogleProvider.id: GoogleProvider,
        LeonardoProvider.id: LeonardoProvider,
        CharacterLibraryProvider.id: CharacterLibraryProvider,
        DiffusersProvider.id: DiffusersProvider,
        ComfyUIProvider.id: ComfyUIProvider,
    }
)
_SPEC_SUFFIXES = ("-ai", "_ai", ".ai")


def vendor_error_codes(classes: Iterable[type[Provider]]) -> frozenset[str]:
    """The providers' own error codes (``<VENDOR>_ERROR``), which the generic vocabulary of the
    specs calls ``provider_error``."""
    return frozenset(
        cls.error_class.code
        for cls in classes
        if cls.error_class.code != cls.error_class.generic_code
    )


@dataclass(frozen=True, slots=True)
class ProviderSetup:
    """How one provider is set up, by names only: never a key's value."""

    id: str
    configured: bool
    #: The variable its key is read from now; None: it takes no key, or none is set.
    key_env: str | None
    #: Every variable its key may be in, in the order they are read.
    key_envs: tuple[str, ...]
    #: Others of those that are set too, to a different key: not read.
    ignored: tuple[str, ...] = ()

    def label(self) -> str:
        """``runway (RUNWAY_API_KEY)`` for a configured provider with a key, else its id."""
        return f"{self.id} ({self.key_env})" if self.key_env else self.id


def _names(classes: ProviderClasses) -> dict[str, str]:
    """Every name a provider answers to (lower case) -> its id; two claims on a name are refused."""
    names: dict[str, str] = {}
    for provider_id, cls in classes.items():
        if cls.id != provider_id:
            raise ConfigurationError(
                f"Provider class {cls.__name__} has id {cls.id!r}, registered as {provider_id!r}."
            )
        for name in {provider_id, *cls.aliases}:
            key = name.strip().lower()
            if names.setdefault(key, provider_id) != provider_id:
                raise ConfigurationError(
                    f"Providers {names[key]!r} and {provider_id!r} both answer to {name!r}.",
                    details={"name": name},
                )
    return names


class ProviderRegistry:
    """Resolves provider names, and builds and caches one adapter per provider id."""

    def __init__(
        self,
        settings: Settings,
        deps: ProviderDeps,
        classes: ProviderClasses = PROVIDER_CLASSES,
    ) -> None:
        sections = validated_sections(settings, classes)
        if settings.default_provider not in classes:
            raise ConfigurationError(
                f"The default provider {settings.default_provider!r} is not a known provider.",
                details={"known": sorted(classes)},
            )
        self._settings = settings
        self._deps = deps
        self._classes = classes
        self._names = _names(classes)
        check_references(settings, classes, self._names)
        self._sections = sections
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

    @property
    def vendor_error_codes(self) -> frozenset[str]:
        return vendor_error_codes(self._classes.values())

    def generic_code(self, code: str) -> str:
        """``code`` in the specs' generic vocabulary: a provider's own code is provider_error."""
        return "provider_error" if code in self.vendor_error_codes else code

    def resolve(self, name: str | None, capability: Capability | None = None) -> type[Provider]:
        """The provider ``name`` stands for (the default provider when None), which must be
        able to do ``capability`` when one is given. See the module docstring for names."""
        cls = self._classes[self.default_id if name is None else self._id_of(name)]
        if capability is not None and capability not in cls.capabilities:
            raise UnsupportedCapability(cls.id, capability, cls.capabilities)
        return cls

    def provider_class(self, provider_id: str) -> type[Provider]:
        """The adapter class of a provider *id* (names are :meth:`resolve`'s business)."""
        try:
            return self._classes[provider_id]
        except KeyError:
            raise UnknownProvider(provider_id, sorted(self._classes)) from None

    def is_configured(self, provider_id: str) -> bool:
        """Whether the provider can be called as set up (its key, or its address, is set)."""
        cls = self.provider_class(provider_id)
        return cls.is_configured(self._settings.provider_section(provider_id), self.environ)

    def setup(self) -> list[ProviderSetup]:
        """Every provider's set-up, by id: configured or not, and the variable its key is read
        from."""
        found = []
        for provider_id in self.ids:
            cls = self._classes[provider_id]
            source = cls.key_source(self.environ)
            key = self.environ.get(source, "").strip() if source else ""
            ignored = tuple(
                name
                for name in cls.key_envs()
                if name != source and self.environ.get(name, "").strip() not in ("", key)
            )
            configured = self.is_configured(provider_id)
            found.append(ProviderSetup(provider_id, configured, source, cls.key_envs(), ignored))
        return found

    def ranked(self, capability: Capability) -> list[str]:
        """The providers that rank themselves for ``capability`` (``Provider.default_rank``),
        best first: what a feature that picks providers itself tries, in order."""
        ranked = [cls for cls in self._classes.values() if capability in cls.default_rank]
        return [cls.id for cls in sorted(ranked, key=lambda c: (c.default_rank[capability], c.id))]

    def character_keeper(self) -> str | None:
        """The first configured provider that keeps characters of its own, if any."""
        for provider_id, cls in self._classes.items():
            if issubclass(cls, CharacterKeeper) and self.is_configured(provider_id):
                return provider_id
        return None

    def get(self, provider_id: str | None = None) -> Provider:
        """The adapter for ``provider_id`` (the default provider when None)."""
        provider_id = provider_id or self.default_id
        if provider_id in self._instances:
            return self._instances[provider_id]
        cls = self.provider_class(provider_id)
        provider = cls(self._sections[provider_id], self._deps)
        self._instances[provider_id] = provider
        return provider

    async def check_setups(self) -> dict[str, ReelforgeError]:
        """Every configured provider's :meth:`Provider.check_setup`: what each refused, by id
        (start-up reports it; nothing is stopped, since a server may come up later)."""
        refused: dict[str, ReelforgeError] = {}
        for provider_id in self.ids:
            asks = self._classes[provider_id].check_setup is not Provider.check_setup
            if not asks or not self.is_configured(provider_id):
                continue
            try:
                await self.get(provider_id).check_setup()
            except ReelforgeError as exc:
                refused[provider_id] = exc
        return refused

    async def aclose(self) -> None:
        for provider in self._instances.values():
            await provider.aclose()
        self._instances.clear()

    def _id_of(self, name: str) -> str:
        key = name.strip().lower()
        found = self._names.get(key)
        for suffix in _SPEC_SUFFIXES:
            if found is None and key.endswith(suffix):
                found = self._names.get(key.removesuffix(suffix))
        if found is None:
            raise UnknownProvider(name, sorted(self._classes))
        return found
