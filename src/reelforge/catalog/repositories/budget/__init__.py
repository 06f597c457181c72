"""The budget's tables and SQL: caps, reservations with their scopes, and the ledger.

:class:`BudgetRepository` is what the budget service uses; :mod:`.tables` holds the tables and
:mod:`.queries` the shared SQL expressions.
"""

from __future__ import annotations

from reelforge.catalog.repositories.budget.repository import BudgetRepository
from reelforge.catalog.repositories.budget.tables import (
    BudgetCapRow,
    BudgetLedgerRow,
    ReservationRow,
    ScopeRow,
)

__all__ = ["BudgetCapRow", "BudgetLedgerRow", "BudgetRepository", "ReservationRow", "ScopeRow"]
