"""Budgets and costs: estimate before a run, reserve before submitting, settle what was spent.

The flow a workflow step follows (:class:`reelforge.budget.service.BudgetService`)::

    estimate = budget.estimate_request(provider_id, request)          # never calls a provider
    reservation = await budget.reserve(scopes, estimate.amount_usd, job_id=..., provider=...,
                                       model=..., idempotency_key=...)  # or BudgetExhausted (402)
    ... submit, wait ...
    await budget.settle(reservation.id, succeeded.cost_usd)           # None: the reserved figure
    # or, on failure / cancel:
    await budget.release(reservation.id, "failed")

A reservation is atomic across every scope it names (:mod:`.scopes`): each capped scope must
have room for it, or nothing is written. Caps are opt-in; a scope without one is unlimited but
its spending is still recorded. Every reserve, settle and release is an append-only ledger entry.
Prices come from the adapters' own price facts plus ``budget.prices`` overrides (:mod:`.prices`).

Modules: :mod:`.config` (the ``budget`` settings section), :mod:`.scopes`, :mod:`.records`,
:mod:`.prices`, :mod:`.plans` (dry runs), :mod:`.service`, :mod:`.routes`; the tables and their
SQL: :mod:`.tables`, :mod:`.queries` and :mod:`.repository` (built on the catalog with
``BudgetRepository.on(catalog)``). This package imports nothing eagerly, so that the settings
can import :mod:`.config` without pulling in the catalog or the providers.
"""
