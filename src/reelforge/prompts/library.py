"""The prompt library: template files, hot reloaded, each distinct text recorded as a version.

Usage (a feature)::

    template = await services.prompts.load("keyframes")
    prompt = template.render("positive", {"description": ..., ...})
    JobSpec(..., prompt=prompt, template_name=template.name, template_version=template.version)

Where a template comes from: ``<prompts.templates_dir>/<name>.toml`` when that setting is set
and the file exists (your own copy, to edit), else the bundled
``reelforge/prompts/templates/<name>.toml``. Copy a bundled file into your folder to change it.

Hot reload: every :meth:`PromptLibrary.load` checks the file's modification time, size and
inode (a ``stat``, no read); when they changed the file is read again, so an edit applies to
the next run without a restart. An edit that breaks the file fails the next run with a
``CONFIGURATION_ERROR`` naming the file, rather than silently using an older text.

Versions: the text of each loaded file goes to the catalog's prompt templates
(``ensure_version``): an unchanged text keeps its version, a changed one gets the next number.
Jobs record ``template_name`` and ``template_version``, so the exact text of any past prompt's
template is ``catalog.templates.get(name, version)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from reelforge.catalog.repositories.templates import PromptTemplateRepository
from reelforge.errors import ConfigurationError, InvalidInput
from reelforge.log import get_logger
from reelforge.prompts.template import PromptTemplate, parse_template

__all__ = ["BUNDLED_TEMPLATES", "PromptLibrary"]

log = get_logger(__name__)

BUNDLED_TEMPLATES = Path(str(resources.files("reelforge.prompts").joinpath("templates")))
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class _Stamp:
    path: Path
    mtime_ns: int
    size: int
    inode: int


@dataclass(frozen=True, slots=True)
class _Loaded:
    stamp: _Stamp
    template: PromptTemplate


class PromptLibrary:
    """Loads templates by name (your folder first, then the bundled ones) and versions them."""

    def __init__(
        self,
        repository: PromptTemplateRepository,
        *,
        templates_dir: Path | None = None,
        bundled_dir: Path = BUNDLED_TEMPLATES,
    ) -> None:
        self._repository = repository
        self._dirs = tuple(d for d in (templates_dir, bundled_dir) if d is not None)
        self._loaded: dict[str, _Loaded] = {}
        # Versions never change once written, so a text's version can be remembered.
        self._versions: dict[tuple[str, str], int] = {}

    async def load(self, name: str) -> PromptTemplate:
        """The current text of template ``name``, with its catalog version."""
        if not _NAME.match(name):
            raise InvalidInput(f"{name!r} is not a prompt template name.", details={"name": name})
        stamp = await asyncio.to_thread(self._stamp, name)
        loaded = self._loaded.get(name)
        if loaded is not None and loaded.stamp == stamp:
            return loaded.template
        text = await asyncio.to_thread(_read, stamp.path)
        parsed = parse_template(name, text, source=stamp.path)
        digest = hashlib.sha256(text.encode()).hexdigest()
        version = self._versions.get((name, digest))
        if version is None:
            record = await self._repository.ensure_version(name, text)
            version = self._versions[(name, digest)] = record.version
            log.info("prompt.template_loaded", template=name, version=version, path=str(stamp.path))
        template = replace(parsed, version=version)
        self._loaded[name] = _Loaded(stamp, template)
        return template

    def path_of(self, name: str) -> Path:
        """The file ``name`` is loaded from now."""
        return self._stamp(name).path

    def _stamp(self, name: str) -> _Stamp:
        for folder in self._dirs:
            path = folder / f"{name}.toml"
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            return _Stamp(path, info.st_mtime_ns, info.st_size, info.st_ino)
        raise ConfigurationError(
            f"No prompt template named {name!r} (looked in {', '.join(map(str, self._dirs))}).",
            details={"template": name},
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"The prompt template file {path} could not be read: {exc}.",
            details={"source": str(path)},
        ) from None
