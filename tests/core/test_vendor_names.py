"""No vendor is named outside its provider package: features, the budget and the error tree
know providers only through the registry and the adapter contract.

Every registered vendor's id, aliases and names (and the brand names its models go by) are
searched case-insensitively as whole words: a letter may not touch either end (``fallback`` is
not ``fal``), a digit may follow (``veo3`` is ``veo``), and ``_``, ``-`` or a space between
words match one another (``character_library``, ``Character Library``)."""

from __future__ import annotations

import re
from pathlib import Path

from reelforge.providers.registry import PROVIDER_CLASSES

SOURCE = Path(__file__).resolve().parents[2] / "src" / "reelforge"
SEARCHED = [SOURCE / "features", SOURCE / "budget", SOURCE / "errors.py"]
#: The local studio is ours, not a vendor's (and "local" is an ordinary word).
OURS = {"local"}
#: Brand names of vendors' models that are neither an id nor an alias.
BRANDS = {"gemini", "imagen", "veo"}


def vendor_names() -> set[str]:
    names = set(BRANDS)
    for provider_id, cls in PROVIDER_CLASSES.items():
        if provider_id in OURS:
            continue
        vendor = cls.vendor_name.lower().removeprefix("the ")
        names |= {provider_id, vendor, cls.display_name.lower(), *cls.aliases}
    return {name.strip().lower() for name in names}


def pattern(name: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in re.split(r"[\s_\-]+", name) if word]
    return re.compile(r"(?<![a-z0-9])" + r"[\s_\-]".join(words) + r"(?![a-z])", re.IGNORECASE)


def searched_files() -> list[Path]:
    files: list[Path] = []
    for root in SEARCHED:
        found = [root] if root.is_file() else sorted(root.rglob("*"))
        files += [f for f in found if f.is_file() and "__pycache__" not in f.parts]
    return files


def test_the_search_finds_vendor_names_and_only_them() -> None:
    names = vendor_names()
    assert {"fal", "replicate", "google", "runway", "leonardo", "character_library"} <= names
    patterns = [pattern(name) for name in names]
    named = ["FAL_ERROR", "fal-ai/flux/dev", "veo3.1", "The Character Library", "RUNWAY", "Imagen"]
    unnamed = ["fallback", "False", "default", "character.library_db_id", "imagine", "veoh"]
    assert [text for text in named if not any(rx.search(text) for rx in patterns)] == []
    assert [text for text in unnamed if any(rx.search(text) for rx in patterns)] == []


def test_no_vendor_is_named_in_features_budget_or_errors() -> None:
    patterns = {name: pattern(name) for name in vendor_names()}
    found = []
    for path in searched_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            hits = sorted(name for name, rx in patterns.items() if rx.search(line))
            if hits:
                found.append(f"{path.relative_to(SOURCE)}:{number}: {hits}: {line.strip()}")
    assert found == []
