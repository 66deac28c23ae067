"""Deliver the outbox: claim due rows, send them, record the outcome, schedule retries.

Runs after the results are committed (by the runner, ``ethics-audit notify flush`` and the
Airflow housekeeping DAG). Within one pass a failing call is retried a few times with
exponential backoff (or after the service's Retry-After); a row that still fails waits for a
later pass, ``retry_base`` * 2**(attempts - 1) later, and becomes ``failed`` after
``max_attempts`` (``notify flush --retry-failed`` gives it new attempts). A channel that is down
is not called again in the same pass: its other rows simply wait. Rows of one alert on one
channel go out in order, so a thread reply never overtakes the message it replies to.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ethics_audit.errors import NotificationError, OutcomeUnknown
from ethics_audit.notify import base, reconcile
from ethics_audit.notify.routing import CHANNELS, PRIORITY

if TYPE_CHECKING:
    from ethics_audit.store import Store
    from ethics_audit.store.outbox import OutboxItem

log = logging.getLogger(__name__)


def make_channel(name: str, settings: base.DeliverySettings) -> base.Channel:
    if name not in CHANNELS:
        raise NotificationError(f"unknown channel {name!r}; channels are {', '.join(CHANNELS)}", retryable=False)
    module, cls = CHANNELS[name].split(":")
    return getattr(importlib.import_module(module), cls)(settings=settings)


def deliver_pending(
    store: Store,
    *,
    audit_id: str | None = None,
    now: datetime | None = None,
    include_not_due: bool = False,
    retry_failed: bool = False,
    settings: base.DeliverySettings | None = None,
) -> dict[str, Any]:
    """Send what is due in the outbox (of one audit, or all). Never raises for a delivery failure.

    Returns counts (``sent``, ``retrying``, ``failed``, ``waiting``) and the errors, as
    ``[{"id", "channel", "error"}]`` with secrets already removed.
    """
    from ethics_audit.store.models import utcnow

    settings = settings or base.DeliverySettings.from_env()
    now = now or utcnow()
    if retry_failed:
        store.retry_failed_notifications(audit_id=audit_id, now=now)
    ctx = base.DeliveryContext(store, settings)
    channels: dict[str, base.Channel | NotificationError] = {}
    down: dict[str, str] = {}
    held: set[tuple[int, str]] = set()  # (alert, channel) with an earlier row still undelivered
    result: dict[str, Any] = {"sent": 0, "retrying": 0, "failed": 0, "waiting": 0, "errors": [], "claimed": []}
    rows = sorted(store.pending_notifications(audit_id=audit_id), key=lambda r: (PRIORITY.get(r.channel, 9), r.id))
    for row in rows:
        thread = (row.alert_id, row.channel) if row.alert_id is not None else None
        # a create that went unanswered waits out its settle time even in `notify flush`
        not_due = row.next_attempt_at > now and (not include_not_due or reconcile.settling(row, now))
        if thread in held or not_due:
            if thread is not None:
                held.add(thread)
            result["waiting"] += 1
            continue
        if row.channel in down:
            store.notification_deferred(
                row.id, next_attempt_at=now + settings.retry_base, reason=f"not tried: {down[row.channel]}"
            )
            if thread is not None:
                held.add(thread)
            result["waiting"] += 1
            continue
        item = store.claim_notification(row.id, now=now, lease=settings.lease)
        if item is None:  # another sender has it (or a killed one, until its claim expires), or it was sent
            if row.claimed_until is not None and row.claimed_until > now:
                result["claimed"].append({"id": row.id, "channel": row.channel, "until": row.claimed_until.isoformat()})
            if thread is not None:
                held.add(thread)
            continue
        outcome = _deliver(item, channels, ctx, settings)
        if isinstance(outcome, base.Sent):
            store.notification_sent(item.id, now=utcnow(), ref=outcome.ref, alert_refs=outcome.alert_refs)
            result["sent"] += 1
            continue
        error = outcome
        give_up = item.attempts >= settings.max_attempts
        if isinstance(error, OutcomeUnknown):
            store.notification_unknown(item.id, error=str(error), now=now, until=now + settings.settle, give_up=give_up)
            result["failed" if give_up else "retrying"] += 1
            result["errors"].append({"id": item.id, "channel": item.channel, "error": str(error)})
            log.warning("notification %s (%s): %s", item.id, item.channel, error)
            if thread is not None:
                held.add(thread)
            down[item.channel] = str(error)  # slow: its other rows wait for the next pass
            continue
        wait = settings.next_attempt_in(item.attempts)
        if error.retry_after is not None and error.retry_after > wait.total_seconds():
            wait = type(wait)(seconds=error.retry_after)
        store.notification_failed(item.id, error=str(error), next_attempt_at=now + wait, give_up=give_up)
        result["failed" if give_up else "retrying"] += 1
        result["errors"].append({"id": item.id, "channel": item.channel, "error": str(error)})
        log.warning("notification %s (%s) not delivered: %s", item.id, item.channel, error)
        if thread is not None:
            held.add(thread)
        if error.channel_down:
            down[item.channel] = str(error)
    return result


def _channel(name: str, channels: dict[str, Any], settings: base.DeliverySettings) -> base.Channel:
    if name not in channels:
        try:
            channels[name] = make_channel(name, settings)
        except NotificationError as exc:
            channels[name] = exc
    found = channels[name]
    if isinstance(found, NotificationError):
        raise found
    return found


def _deliver(
    item: OutboxItem, channels: dict[str, Any], ctx: base.DeliveryContext, settings: base.DeliverySettings
) -> base.Sent | NotificationError:
    """One row, with in-pass retries for what is worth retrying. Returns what was sent, or the error."""
    secrets: list[str] = []
    for attempt in range(settings.tries):
        try:
            channel = _channel(item.channel, channels, settings)
            secrets = channel.secrets()
            # a call before this one (an earlier pass, or a crash) may have gone through
            return channel.send(item, ctx, retry=item.attempts > 1 or attempt > 0)
        except NotificationError as exc:
            unknown = isinstance(exc, OutcomeUnknown) and not getattr(
                channels.get(item.channel), "folds_repeats", False
            )
            error = (OutcomeUnknown if unknown else NotificationError)(
                base.redact(str(exc), secrets),
                retryable=exc.retryable,
                retry_after=exc.retry_after,
                channel_down=exc.channel_down,
            )
            if unknown:
                # never simply sent again: the next attempt searches first (channel.send with
                # retry=True), after the service's search has had `settle` to catch up; a short
                # settle is waited out in this pass, a long one in a later pass
                if settings.settle.total_seconds() > settings.max_wait or attempt == settings.tries - 1:
                    return error
                base.sleep(settings.settle.total_seconds())
                item = reconcile.with_unknown_outcome(item, settings.settle)
                continue
        except Exception as exc:
            log.exception("internal error in the %s channel", item.channel)
            error = NotificationError(
                base.redact(f"internal error in the {item.channel} channel: {type(exc).__name__}: {exc}", secrets),
                retryable=False,
                channel_down=False,
            )
        if not error.retryable or attempt == settings.tries - 1:
            return error
        wait = settings.backoff * 2**attempt
        if error.retry_after is not None:
            if error.retry_after > settings.max_wait:
                return error  # the service wants a long pause: the next pass honours it
            wait = max(wait, error.retry_after)
        base.sleep(wait)
    return error
