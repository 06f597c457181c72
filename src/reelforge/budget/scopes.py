"""What a budget applies to: a project, an episode, a game session, a campaign or a user.

A scope is written ``<kind>:<id>`` (``project:p-7``, ``user:ana@example.com``). Ids are 1-128
characters of letters, digits and ``._@+-``, with no colon, except a game session's, which is
its campaign id and its session id joined by one colon: ``game_session:<campaign>:<session>``
(:meth:`BudgetScope.game_session`). A run may fall under several scopes at once; every one of
them must allow it. :func:`scopes_for` builds the usual set from the ids a feature knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from reelforge.errors import InvalidInput

__all__ = [
    "SCOPE_ID_PATTERN",
    "SCOPE_KINDS",
    "SCOPE_PATTERN",
    "BudgetScope",
    "ScopeKind",
    "scopes_for",
]

ScopeKind = Literal["project", "episode", "game_session", "campaign", "user"]
SCOPE_KINDS: tuple[ScopeKind, ...] = get_args(ScopeKind)

_PART = r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}"
_ID = re.compile(rf"^{_PART}$")
_SESSION_ID = re.compile(rf"^{_PART}:{_PART}$")
#: A scope's id of any kind (a game session's has two parts), as the API's documents say it.
SCOPE_ID_PATTERN = rf"^{_PART}(:{_PART})?$"
#: A scope written ``<kind>:<id>`` (:meth:`BudgetScope.parse`).
_ONE_PART_KINDS = "|".join(kind for kind in SCOPE_KINDS if kind != "game_session")
SCOPE_PATTERN = rf"^(({_ONE_PART_KINDS}):{_PART}|game_session:{_PART}:{_PART})$"


@dataclass(frozen=True, slots=True, order=True)
class BudgetScope:
    """One scope a run is charged to. Ordered by (kind, id): the order locks are taken in."""

    kind: ScopeKind
    id: str

    def __post_init__(self) -> None:
        if self.kind not in SCOPE_KINDS:
            raise InvalidInput(
                f"A budget scope is one of {', '.join(SCOPE_KINDS)}; got {self.kind!r}.",
                details={"field": "scope", "allowed": list(SCOPE_KINDS)},
            )
        pattern = _SESSION_ID if self.kind == "game_session" else _ID
        if not isinstance(self.id, str) or not pattern.match(self.id):
            shape = "<campaign>:<session>" if self.kind == "game_session" else "an id"
            raise InvalidInput(
                f"A {self.kind} scope id must be {shape} of 1-128 letters, digits and ._@+- "
                f"each; got {self.id!r}.",
                details={"field": "scope_id", "kind": self.kind},
            )

    @classmethod
    def game_session(cls, campaign_id: str, session_id: str) -> BudgetScope:
        """The scope of one session of a campaign: id ``<campaign_id>:<session_id>``."""
        return cls("game_session", f"{campaign_id}:{session_id}")

    @classmethod
    def parse(cls, text: str) -> BudgetScope:
        """``"project:p-7"`` as a scope (the form used in query strings and the CLI)."""
        kind, sep, scope_id = text.partition(":")
        if not sep:
            raise InvalidInput(
                f"A scope is written <kind>:<id>, e.g. project:p-7; got {text!r}.",
                details={"field": "scope"},
            )
        return cls(kind, scope_id)  # type: ignore[arg-type]  # checked in __post_init__

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def __str__(self) -> str:
        return self.key


def scopes_for(
    *,
    project_id: str | None = None,
    episode_id: str | None = None,
    campaign_id: str | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
) -> tuple[BudgetScope, ...]:
    """The scopes of a run from the ids a feature knows; a game session is charged to its
    campaign as well."""
    if session_id is not None and campaign_id is None:
        raise InvalidInput("A game session scope needs its campaign id.")
    scopes: list[BudgetScope] = []
    if project_id is not None:
        scopes.append(BudgetScope("project", project_id))
    if episode_id is not None:
        scopes.append(BudgetScope("episode", episode_id))
    if campaign_id is not None:
        scopes.append(BudgetScope("campaign", campaign_id))
        if session_id is not None:
            scopes.append(BudgetScope.game_session(campaign_id, session_id))
    if user_id is not None:
        scopes.append(BudgetScope("user", user_id))
    return tuple(scopes)
