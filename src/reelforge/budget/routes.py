"""``/v1/budgets``, ``/v1/costs`` and ``/v1/prices``: caps, spending, the ledger and the prices.

- ``PUT /v1/budgets/{scope}/{id}`` ``{"cap_usd": "5.00", "period": "total"|"day"}``: set a cap;
  ``DELETE`` removes it (the scope is unlimited again); ``GET`` shows the cap, what was spent
  and reserved in the period, and what is left (no cap: ``cap_usd`` null, over all time).
- ``GET /v1/budgets[?scope=KIND]``: every capped scope with its balance.
- ``GET /v1/costs?group_by=scope|provider|model|day&scope=KIND:ID&since=&until=&provider=&model=``:
  settled spend (``spent_usd``) and still-reserved money (``reserved_usd``) by group.
- ``GET /v1/costs/ledger?scope=&job_id=&reservation_id=&limit=&offset=``: the ledger's entries.
- ``POST /v1/costs/estimate``: a dry run of planned jobs (no provider is called).
- ``GET /v1/prices[?provider=ID]``: the price table, each entry with its source and date.

Scopes are ``project``, ``episode``, ``game_session`` (id ``<campaign>:<session>``),
``campaign`` and ``user``. Money is a decimal string in requests and answers.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from reelforge.budget.plans import Plan, PlannedJob
from reelforge.budget.records import CostGroup, Period
from reelforge.budget.scopes import SCOPE_ID_PATTERN, SCOPE_PATTERN, BudgetScope, ScopeKind
from reelforge.budget.service import BudgetService
from reelforge.errors import ConfigurationError
from reelforge.providers.base import Capability
from reelforge.validation import NonNegativeInt64

__all__ = ["CapRequest", "EstimateRequest", "PlannedJobBody", "budget_service", "router"]

router = APIRouter(tags=["budgets"])

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: object) -> object:
    # Pydantic reads a number ("0") as a Unix time; the API takes only YYYY-MM-DD.
    if isinstance(value, str) and not _DAY.match(value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


ScopeId = Annotated[
    str,
    Path(pattern=SCOPE_ID_PATTERN, description="An id; a game_session's is <campaign>:<session>"),
]
ScopeQuery = Annotated[
    str | None, Query(pattern=SCOPE_PATTERN, description="KIND:ID, e.g. project:p-7")
]
Scope = Annotated[str, Field(pattern=SCOPE_PATTERN, examples=["project:p-7"])]
Day = Annotated[date, BeforeValidator(_iso_day)]


def budget_service(request: Request) -> BudgetService:
    service: BudgetService | None = getattr(request.app.state.services, "budget", None)
    if service is None:
        raise ConfigurationError("The budget service is not wired in this process.")
    return service


class CapRequest(BaseModel):
    """A cap in USD (a decimal string) and its period: ``total`` or ``day`` (UTC)."""

    model_config = ConfigDict(extra="forbid")

    cap_usd: Decimal = Field(ge=0, validation_alias=AliasChoices("cap_usd", "cap"))
    period: Period = "total"


class PlannedJobBody(BaseModel):
    """One planned provider call, with the fields of a job spec that prices depend on."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=64)
    capability: Capability
    model: str | None = None
    width: int = Field(default=1280, gt=0, le=8192)
    height: int = Field(default=720, gt=0, le=8192)
    duration_s: float | None = Field(default=None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)
    input_images: int = Field(default=0, ge=0, le=16)
    label: str | None = Field(default=None, max_length=200)

    def planned(self) -> PlannedJob:
        return PlannedJob.build(
            self.provider,
            self.capability,
            model=self.model,
            width=self.width,
            height=self.height,
            duration_s=self.duration_s,
            options=self.options,
            input_images=self.input_images,
            label=self.label,
        )


class EstimateRequest(BaseModel):
    """A dry run: the jobs a run would make, and the scopes it would be charged to."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[PlannedJobBody] = Field(min_length=1, max_length=500)
    scopes: list[Scope] = Field(default_factory=list, max_length=10)


def _scopes(texts: list[str]) -> list[BudgetScope]:
    return [BudgetScope.parse(text) for text in texts]


@router.put("/budgets/{scope}/{scope_id}")
async def put_budget(
    scope: ScopeKind, scope_id: ScopeId, body: CapRequest, request: Request
) -> dict[str, Any]:
    service = budget_service(request)
    target = BudgetScope(scope, scope_id)
    cap = await service.set_cap(target, body.cap_usd, body.period)
    return cap.to_json() | {"balance": (await service.balance(target)).to_json()}


@router.get("/budgets/{scope}/{scope_id}")
async def get_budget(scope: ScopeKind, scope_id: ScopeId, request: Request) -> dict[str, Any]:
    return (await budget_service(request).balance(BudgetScope(scope, scope_id))).to_json()


@router.delete("/budgets/{scope}/{scope_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_budget(scope: ScopeKind, scope_id: ScopeId, request: Request) -> Response:
    await budget_service(request).remove_cap(BudgetScope(scope, scope_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/budgets")
async def list_budgets(request: Request, scope: ScopeKind | None = None) -> dict[str, Any]:
    balances = await budget_service(request).balances(scope)
    return {"budgets": [balance.to_json() for balance in balances]}


@router.get("/costs")
async def get_costs(
    request: Request,
    group_by: CostGroup = "provider",
    scope: ScopeQuery = None,
    since: Annotated[Day | None, Query(description="First UTC day, YYYY-MM-DD")] = None,
    until: Annotated[Day | None, Query(description="Last UTC day, YYYY-MM-DD")] = None,
    provider: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    report = await budget_service(request).costs(
        group_by,
        scope=None if scope is None else BudgetScope.parse(scope),
        since=since,
        until=until,
        provider=provider,
        model=model,
    )
    return report.to_json()


@router.get("/costs/ledger")
async def get_ledger(
    request: Request,
    scope: ScopeQuery = None,
    job_id: str | None = None,
    reservation_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: NonNegativeInt64 = 0,
) -> dict[str, Any]:
    entries = await budget_service(request).ledger(
        scope=None if scope is None else BudgetScope.parse(scope),
        job_id=job_id,
        reservation_id=reservation_id,
        limit=limit,
        offset=offset,
    )
    return {"entries": [entry.to_json() for entry in entries]}


@router.post("/costs/estimate")
async def estimate(body: EstimateRequest, request: Request) -> dict[str, Any]:
    plan = Plan(tuple(job.planned() for job in body.jobs))
    result = await budget_service(request).estimate_plan(plan, _scopes(body.scopes))
    return result.to_json()


@router.get("/prices")
async def get_prices(request: Request, provider: str | None = None) -> dict[str, Any]:
    return budget_service(request).prices(provider).to_json()
