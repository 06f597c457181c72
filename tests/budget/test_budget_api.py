"""``/v1/budgets``, ``/v1/costs`` and ``/v1/prices`` over real HTTP, behind bearer auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.api.errors import error_response
from reelforge.budget.scopes import BudgetScope
from reelforge.errors import BudgetExhausted
from reelforge.services import Services, open_services

TOKEN = "budget-token-5c1e"
API = tuple[httpx.AsyncClient, Services]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[API]:
    settings = local_settings(
        tmp_path,
        auth={"enabled": True, "tokens": [TOKEN]},
        budget={"prices": {"leonardo": {"*": {"per_image_usd": "0.02"}}}},
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url, headers=headers) as client,
    ):
        yield client, services


async def test_routes_need_the_token(api: API) -> None:
    client, _ = api
    response = await client.get("/v1/costs", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


async def test_put_get_list_and_delete_a_budget(api: API) -> None:
    client, services = api
    put = await client.put("/v1/budgets/game_session/dragons:s1", json={"cap": "2.50"})
    assert put.status_code == 200, put.text
    body = put.json()
    assert (body["scope"], body["id"], body["cap_usd"], body["period"]) == (
        "game_session",
        "dragons:s1",
        "2.50",
        "total",
    )
    await services.budget.reserve(
        [BudgetScope.game_session("dragons", "s1")],
        Decimal("0.40"),
        job_id="j1",
        provider="fal",
        model="fal-ai/flux/dev",
        idempotency_key="j1",
    )
    got = (await client.get("/v1/budgets/game_session/dragons:s1")).json()
    assert (got["reserved_usd"], got["remaining_usd"]) == ("0.40", "2.10")
    daily = await client.put("/v1/budgets/user/ana", json={"cap_usd": "1", "period": "day"})
    assert daily.json()["balance"]["day"] is not None
    listed = (await client.get("/v1/budgets")).json()["budgets"]
    assert [(b["scope"], b["id"]) for b in listed] == [
        ("game_session", "dragons:s1"),
        ("user", "ana"),
    ]
    assert len((await client.get("/v1/budgets", params={"scope": "user"})).json()["budgets"]) == 1
    assert (await client.delete("/v1/budgets/user/ana")).status_code == 204
    unlimited = (await client.get("/v1/budgets/user/ana")).json()
    assert (unlimited["cap_usd"], unlimited["remaining_usd"]) == (None, None)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/budgets/team/x", {"cap_usd": "1"}),
        ("/v1/budgets/game_session/no-session", {"cap_usd": "1"}),
        ("/v1/budgets/project/p", {"cap_usd": "-1"}),
        ("/v1/budgets/project/p", {"cap_usd": "1", "period": "week"}),
        ("/v1/budgets/project/p", {"cap_usd": "1", "extra": True}),
    ],
)
async def test_bad_budgets_are_refused_in_the_envelope(
    api: API, path: str, body: dict[str, object]
) -> None:
    client, _ = api
    response = await client.put(path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_INPUT"


async def test_costs_and_the_ledger(api: API) -> None:
    client, services = api
    scope = BudgetScope("project", "p-7")
    reservation = await services.budget.reserve(
        [scope], Decimal("0.05"), job_id="j", provider="fal", model="m", idempotency_key="k"
    )
    await services.budget.settle(reservation.id, Decimal("0.06"))
    costs = (await client.get("/v1/costs", params={"group_by": "scope"})).json()
    assert costs["rows"] == [
        {
            "key": "project:p-7",
            "provider": None,
            "spent_usd": "0.06",
            "reserved_usd": "0.00",
            "reservations": 1,
        }
    ]
    by_day = (
        await client.get("/v1/costs", params={"group_by": "day", "scope": "project:p-7"})
    ).json()
    assert len(by_day["rows"]) == 1
    assert (await client.get("/v1/costs", params={"group_by": "week"})).status_code == 400
    assert (await client.get("/v1/costs", params={"scope": "p-7"})).status_code == 400
    ledger = (await client.get("/v1/costs/ledger", params={"scope": "project:p-7"})).json()
    assert [(e["kind"], e["amount_usd"]) for e in ledger["entries"]] == [
        ("reserve", "0.05"),
        ("settle", "0.06"),
    ]


async def test_prices_and_a_dry_run(api: API) -> None:
    client, _ = api
    prices = (await client.get("/v1/prices", params={"provider": "leonardo"})).json()["prices"]
    assert [(p["model"], p["usd"], p["origin"]) for p in prices] == [("*", "0.02", "budget.prices")]
    await client.put("/v1/budgets/project/p", json={"cap_usd": "0.03"})
    dry = await client.post(
        "/v1/costs/estimate",
        json={
            "jobs": [
                {"provider": "leonardo", "capability": "text_to_image", "label": "a"},
                {"provider": "leonardo", "capability": "text_to_image", "label": "b"},
                {"provider": "local", "capability": "image_to_video", "duration_s": 4},
            ],
            "scopes": ["project:p"],
        },
    )
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert (body["dry_run"], body["total_usd"], body["affordable"]) == (True, "0.04", False)
    assert body["limiting_scope"] == "project:p"
    assert [j["amount_usd"] for j in body["per_job"]] == ["0.02", "0.02", "0.00"]
    unknown = await client.post(
        "/v1/costs/estimate", json={"jobs": [{"provider": "nope", "capability": "text_to_image"}]}
    )
    assert unknown.status_code == 400


def test_budget_exhausted_leaves_the_api_as_402() -> None:
    response = error_response(
        BudgetExhausted("The budget of project:p is exhausted.", details={"scope": "project:p"})
    )
    assert response.status_code == 402
    assert b'"code":"budget_exhausted"' in response.body
