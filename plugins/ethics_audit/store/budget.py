"""The privacy budget: epsilon spent per audit and calendar year by public (differentially private) reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ethics_audit.errors import AuditError
from ethics_audit.store.engine import StoreBase


@dataclass(frozen=True)
class BudgetSpend:
    """One audit's share of a public report's privacy cost, charged to the data's calendar year."""

    audit_id: str
    year: int
    epsilon: float
    yearly_budget: float
    purpose: str
    details: dict[str, Any]


class PrivacyBudgetExceeded(AuditError):
    """A public report would spend more privacy budget than the spec allows for the year."""


class BudgetStore(StoreBase):
    """Reading and spending the yearly privacy budget."""

    def privacy_budget_spent(self, audit_id: str, year: int) -> float:
        from sqlalchemy import func, select

        from ethics_audit.store.models import PrivacyBudgetEntry

        with self.session() as s:
            total = s.execute(
                select(func.coalesce(func.sum(PrivacyBudgetEntry.epsilon), 0.0)).where(
                    PrivacyBudgetEntry.audit_id == audit_id, PrivacyBudgetEntry.year == year
                )
            ).scalar_one()
        return float(total)

    def privacy_budget_entries(self, audit_id: str | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from ethics_audit.store.models import PrivacyBudgetEntry

        query = select(PrivacyBudgetEntry).order_by(PrivacyBudgetEntry.spent_at, PrivacyBudgetEntry.id)
        if audit_id is not None:
            query = query.where(PrivacyBudgetEntry.audit_id == audit_id)
        with self.session() as s:
            return [
                {
                    "audit_id": e.audit_id,
                    "year": e.year,
                    "epsilon": e.epsilon,
                    "purpose": e.purpose,
                    "spent_at": e.spent_at,
                    "details": e.details or {},
                }
                for e in s.execute(query).scalars()
            ]

    def spend_privacy_budget(self, spends: list[BudgetSpend]) -> None:
        """Record every spend, or none: refuse all when any audit would exceed its yearly budget.

        The check and the insert share one transaction; on PostgreSQL an advisory lock makes
        concurrent public reports take turns, so two of them cannot both pass the check.
        """
        from sqlalchemy import func, select, text

        from ethics_audit.store.models import PrivacyBudgetEntry

        with self.session() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(72657474)"))
            added = []
            for spend in spends:
                # SQLite: this insert takes the write lock before the sum is read
                added.append(
                    PrivacyBudgetEntry(
                        audit_id=spend.audit_id,
                        year=spend.year,
                        epsilon=spend.epsilon,
                        purpose=spend.purpose,
                        details=spend.details,
                    )
                )
                s.add(added[-1])
            s.flush()
            for spend in spends:
                total = s.execute(
                    select(func.sum(PrivacyBudgetEntry.epsilon)).where(
                        PrivacyBudgetEntry.audit_id == spend.audit_id, PrivacyBudgetEntry.year == spend.year
                    )
                ).scalar_one()
                if total > spend.yearly_budget + 1e-9:
                    left = max(0.0, spend.yearly_budget - (total - spend.epsilon))
                    raise PrivacyBudgetExceeded(
                        f"audit {spend.audit_id!r}: {spend.purpose} would spend epsilon {spend.epsilon:g} of the "
                        f"{spend.year} privacy budget, but only {left:g} of {spend.yearly_budget:g} is left "
                        f"(reports.dp_yearly_epsilon in the audit's spec); use a smaller --epsilon, or publish "
                        f"the report already released"
                    )
            from ethics_audit.store import ledger

            ledger.append_spends(s, added)
