"""The notification outbox in the results database: enqueue, claim, and record each delivery.

Rows are written in the same transaction as the results that caused them (``enqueue`` takes
that transaction's session). Delivery happens later, row by row: a sender *claims* a row with
a conditional update (so two senders, e.g. the runner and the housekeeping DAG, never send the
same row at once; a crashed sender's claim simply expires), then records it as sent with what
the channel created (Slack thread, ticket), or schedules its retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ethics_audit.store.engine import StoreBase

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class OutboxItem:
    """One notification as a channel sees it, with what earlier deliveries created for its alert."""

    id: int
    audit_id: str
    channel: str
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    alert_id: int | None
    alert_refs: dict[str, Any]
    created_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None
    external_ref: dict[str, Any] | None = None
    claimed_until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "audit_id": self.audit_id,
            "channel": self.channel,
            "kind": self.kind,
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "alert_id": self.alert_id,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "last_error": self.last_error,
            "external_ref": self.external_ref or {},
            "title": self.payload.get("title") or self.payload.get("alert", {}).get("key"),
        }


def enqueue(
    session: Session,
    *,
    audit_id: str,
    channel: str,
    idempotency_key: str,
    payload: dict[str, Any],
    alert_id: int | None = None,
    kind: str = "message",
    incident_id: int | None = None,
    event_id: int | None = None,
) -> int:
    """Add a row unless one with this idempotency key exists. Returns 1 if added, else 0."""
    from sqlalchemy import select

    from ethics_audit.store.models import Notification, utcnow

    exists = session.execute(
        select(Notification.id).where(Notification.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if exists is not None:
        return 0
    now = utcnow()
    session.add(
        Notification(
            audit_id=audit_id,
            channel=channel,
            idempotency_key=idempotency_key,
            payload=payload,
            alert_id=alert_id,
            kind=kind,
            incident_id=incident_id,
            event_id=event_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            external_ref={},
        )
    )
    session.flush()
    return 1


def _item(row: Any, alert_refs: dict[str, Any] | None) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        audit_id=row.audit_id,
        channel=row.channel,
        kind=row.kind,
        idempotency_key=row.idempotency_key,
        payload=row.payload or {},
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        alert_id=row.alert_id,
        alert_refs=dict(alert_refs or {}),
        created_at=row.created_at,
        last_error=row.last_error,
        sent_at=row.sent_at,
        external_ref=row.external_ref or {},
        claimed_until=row.claimed_until,
    )


def pending(session: Session, *, audit_id: str | None = None) -> list[OutboxItem]:
    """Every pending row, oldest first (due or not: a row waiting for its retry still holds back
    the later rows of its alert and channel, so a thread reply never overtakes its parent)."""
    from sqlalchemy import select

    from ethics_audit.store.models import Notification

    query = select(Notification).where(Notification.status == "pending").order_by(Notification.id)
    if audit_id is not None:
        query = query.where(Notification.audit_id == audit_id)
    return [_item(row, None) for row in session.execute(query).scalars()]


def claim(session: Session, notification_id: int, *, now: datetime, lease: timedelta) -> OutboxItem | None:
    """Take the row for one delivery attempt, or None if another sender holds it or it is done.

    The attempt is counted here, before anything is sent: if the process dies mid-call, the next
    sender sees ``attempts > 0`` and checks the channel for what the lost call may have created.
    """
    from sqlalchemy import or_, update

    from ethics_audit.store.models import Alert, Notification

    taken = session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status == "pending",
            or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
        )
        .values(claimed_until=now + lease, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    row = session.get(Notification, notification_id, populate_existing=True)
    alert = session.get(Alert, row.alert_id) if row.alert_id else None
    return _item(row, alert.external if alert is not None else None)


def mark_sent(
    session: Session, notification_id: int, *, now: datetime, ref: dict[str, Any], alert_refs: dict[str, Any] | None
) -> None:
    """Sent: keep what the channel returned; merge thread/ticket ids into the alert for later rows."""
    from sqlalchemy import select

    from ethics_audit.store.models import Alert, Incident, Notification

    row = session.get(Notification, notification_id)
    row.status, row.sent_at, row.claimed_until, row.last_error = "sent", now, None, None
    row.external_ref = ref
    if alert_refs and row.alert_id is not None:
        alert = session.get(Alert, row.alert_id, with_for_update=True)
        if alert is not None:
            alert.external = {**(alert.external or {}), **alert_refs}
        # each incident carries its alert's thread and tickets too (reports list them per incident)
        for incident in session.execute(select(Incident).where(Incident.alert_id == row.alert_id)).scalars():
            incident.external = {**(incident.external or {}), **alert_refs}


def mark_failed(
    session: Session, notification_id: int, *, error: str, next_attempt_at: datetime, give_up: bool
) -> None:
    from ethics_audit.store.models import Notification

    row = session.get(Notification, notification_id)
    row.last_error = error[:2000]
    row.claimed_until = None
    row.next_attempt_at = next_attempt_at
    if give_up:
        row.status = "failed"


def mark_unknown(
    session: Session, notification_id: int, *, error: str, now: datetime, until: datetime, give_up: bool
) -> None:
    """A create was sent and not answered: record "outcome unknown", hold the row until ``until``."""
    from ethics_audit.store.models import Notification

    row = session.get(Notification, notification_id)
    earlier = (row.external_ref or {}).get("outcome_unknown") or {}
    row.external_ref = {
        **(row.external_ref or {}),
        "outcome_unknown": {
            "first_at": earlier.get("first_at", now.isoformat()),
            "at": now.isoformat(),
            "until": until.isoformat(),
            "times": int(earlier.get("times", 0)) + 1,
        },
    }
    row.last_error = error[:2000]
    row.claimed_until = None
    row.next_attempt_at = until
    if give_up:
        row.status = "failed"


def defer(session: Session, notification_id: int, *, next_attempt_at: datetime, reason: str) -> None:
    """Not tried in this pass (its channel is down, or an earlier row of its thread is waiting)."""
    from ethics_audit.store.models import Notification

    row = session.get(Notification, notification_id)
    if row.status == "pending" and row.next_attempt_at < next_attempt_at:
        row.next_attempt_at = next_attempt_at
        row.last_error = reason


def retry_failed(
    session: Session, *, audit_id: str | None = None, ids: list[int] | None = None, now: datetime | None = None
) -> int:
    """Give failed rows a fresh set of attempts (after fixing a token, a channel name...)."""
    from sqlalchemy import update

    from ethics_audit.store.models import Notification, utcnow

    query = update(Notification).where(Notification.status == "failed")
    if audit_id is not None:
        query = query.where(Notification.audit_id == audit_id)
    if ids:
        query = query.where(Notification.id.in_(ids))
    return session.execute(
        query.values(status="pending", attempts=0, next_attempt_at=now or utcnow(), claimed_until=None)
    ).rowcount


def listing(
    session: Session, *, audit_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[OutboxItem]:
    from sqlalchemy import select

    from ethics_audit.store.models import Notification

    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if audit_id is not None:
        query = query.where(Notification.audit_id == audit_id)
    if status is not None:
        query = query.where(Notification.status == status)
    return [_item(row, None) for row in session.execute(query).scalars()]


class OutboxStore(StoreBase):
    """The outbox, one transaction per call (for senders and the CLI)."""

    def enqueue_notification(
        self, audit_id: str, channel: str, idempotency_key: str, payload: dict[str, Any], *, kind: str = "message"
    ) -> bool:
        """Queue a notification that belongs to no incident (e.g. "the quarterly report is ready").

        ``payload`` holds ``title`` and ``text`` (and optionally ``links``: [{"text", "url"}]);
        never a secret. Queuing the same ``idempotency_key`` twice is a no-op; returns True if queued.
        """
        with self.session() as s:
            return bool(
                enqueue(
                    s, audit_id=audit_id, channel=channel, idempotency_key=idempotency_key, payload=payload, kind=kind
                )
            )

    def pending_notifications(self, *, audit_id: str | None = None) -> list[Any]:
        with self.session() as s:
            return pending(s, audit_id=audit_id)

    def claim_notification(self, notification_id: int, *, now: datetime, lease: timedelta) -> Any:
        with self.session() as s:
            return claim(s, notification_id, now=now, lease=lease)

    def notification_sent(
        self, notification_id: int, *, now: datetime, ref: dict[str, Any], alert_refs: dict[str, Any] | None
    ) -> None:
        with self.session() as s:
            mark_sent(s, notification_id, now=now, ref=ref, alert_refs=alert_refs)

    def notification_failed(
        self, notification_id: int, *, error: str, next_attempt_at: datetime, give_up: bool
    ) -> None:
        with self.session() as s:
            mark_failed(s, notification_id, error=error, next_attempt_at=next_attempt_at, give_up=give_up)

    def notification_unknown(
        self, notification_id: int, *, error: str, now: datetime, until: datetime, give_up: bool
    ) -> None:
        with self.session() as s:
            mark_unknown(s, notification_id, error=error, now=now, until=until, give_up=give_up)

    def notification_deferred(self, notification_id: int, *, next_attempt_at: datetime, reason: str) -> None:
        with self.session() as s:
            defer(s, notification_id, next_attempt_at=next_attempt_at, reason=reason)

    def retry_failed_notifications(
        self, *, audit_id: str | None = None, ids: list[int] | None = None, now: datetime | None = None
    ) -> int:
        with self.session() as s:
            return retry_failed(s, audit_id=audit_id, ids=ids, now=now)

    def notifications(self, *, audit_id: str | None = None, status: str | None = None, limit: int = 100) -> list[Any]:
        with self.session() as s:
            return listing(s, audit_id=audit_id, status=status, limit=limit)
