"""Budget scopes: kinds, id formats (a game session is campaign + session), parsing."""

from __future__ import annotations

import pytest

from reelforge.budget.scopes import SCOPE_KINDS, BudgetScope, scopes_for
from reelforge.errors import InvalidInput


def test_the_five_kinds() -> None:
    assert SCOPE_KINDS == ("project", "episode", "game_session", "campaign", "user")


def test_a_game_session_is_its_campaign_and_session_ids() -> None:
    scope = BudgetScope.game_session("dragons", "s-12")
    assert scope == BudgetScope("game_session", "dragons:s-12")
    assert scope.key == "game_session:dragons:s-12"
    assert BudgetScope.parse("game_session:dragons:s-12") == scope


@pytest.mark.parametrize(
    ("kind", "scope_id"),
    [
        ("game_session", "dragons"),
        ("game_session", "a:b:c"),
        ("project", "p:1"),
        ("project", ""),
        ("user", "has space"),
        ("user", "x" * 129),
        ("team", "t1"),
    ],
)
def test_bad_scopes_are_refused(kind: str, scope_id: str) -> None:
    with pytest.raises(InvalidInput):
        BudgetScope(kind, scope_id)  # type: ignore[arg-type]


def test_parse_needs_a_kind() -> None:
    assert BudgetScope.parse("user:ana@example.com") == BudgetScope("user", "ana@example.com")
    with pytest.raises(InvalidInput, match="<kind>:<id>"):
        BudgetScope.parse("p-7")


def test_scopes_order_by_kind_then_id() -> None:
    scopes = [BudgetScope("user", "a"), BudgetScope("project", "b"), BudgetScope("project", "a")]
    assert [s.key for s in sorted(scopes)] == ["project:a", "project:b", "user:a"]


def test_scopes_for_charges_a_session_to_its_campaign_too() -> None:
    scopes = scopes_for(project_id="p", campaign_id="c", session_id="s", user_id="u")
    assert [s.key for s in scopes] == ["project:p", "campaign:c", "game_session:c:s", "user:u"]
    assert scopes_for() == ()
    with pytest.raises(InvalidInput, match="campaign"):
        scopes_for(session_id="s")
