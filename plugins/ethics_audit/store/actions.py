"""Claims of people's actions that arrive over HTTP (Slack buttons), and the alert they act on.

A Slack button press is an HTTP request that can be replayed or sent twice by a double click.
Before an action is applied, its key is inserted into ``action_claims``; the unique constraint
lets exactly one request through, also when two arrive at the same time on PostgreSQL. The
action itself is then applied by the same ``recording.apply_action`` the CLI's ``incidents``
commands call, so every transition is recorded (and announced) the one way.
"""

from __future__ import annotations

from typing import Any

from ethics_audit.store.engine import StoreBase


class ActionsStore(StoreBase):
    """Claims of people's actions, one per button press."""

    def claim_action(
        self, key: str, *, source: str, action: str, alert_id: int | None, actor: str, outcome: str = "claimed"
    ) -> bool:
        """Insert the claim; False when ``key`` was claimed before (nothing is changed then)."""
        from sqlalchemy.exc import IntegrityError

        from ethics_audit.store.models import ActionClaim

        try:
            with self.session() as s:
                s.add(
                    ActionClaim(
                        key=key, source=source, action=action, alert_id=alert_id, actor=actor[:200], outcome=outcome
                    )
                )
        except IntegrityError:
            return False
        return True

    def settle_action(self, key: str, outcome: str, detail: str = "") -> None:
        """Record how a claimed action ended (applied, refused or failed), for ``claims``."""
        from sqlalchemy import update

        from ethics_audit.store.models import ActionClaim

        with self.session() as s:
            s.execute(update(ActionClaim).where(ActionClaim.key == key).values(outcome=outcome, detail=detail[:2000]))

    def action_claims(self, *, alert_id: int | None = None) -> list[dict[str, Any]]:
        """Every claim, oldest first (what was pressed, by whom, and how it ended)."""
        from sqlalchemy import select

        from ethics_audit.store.models import ActionClaim

        query = select(ActionClaim).order_by(ActionClaim.id)
        if alert_id is not None:
            query = query.where(ActionClaim.alert_id == alert_id)
        with self.session() as s:
            return [
                {
                    "key": c.key,
                    "source": c.source,
                    "action": c.action,
                    "alert_id": c.alert_id,
                    "actor": c.actor,
                    "outcome": c.outcome,
                    "detail": c.detail,
                    "at": c.at.isoformat(),
                }
                for c in s.execute(query).scalars()
            ]
