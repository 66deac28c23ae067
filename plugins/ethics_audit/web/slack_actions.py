"""Slack interactivity: verify a button press, apply it to its alert once, reply in the thread.

Slack POSTs ``payload=<json>`` (form-encoded) to the app's interactivity URL, signed with the
app's signing secret: ``X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")`` and
``X-Slack-Request-Timestamp``. A request is refused, and changes nothing, when the signature is
wrong (401), the timestamp is more than 5 minutes away (401), the payload is not a button press
of ours (400), its alert does not exist (404), the Slack user may not act on that audit (403) or
the very same press was handled before (409). Slack users are mapped to names and audits by
``ETHICS_AUDIT_SLACK_USERS``. An accepted press is claimed in the store (``Store.claim_action``)
before it is applied through the same ``Store`` methods as ``ethics-audit incidents ack|mute``;
a second press on incidents already in that state (a double click) is a no-op. The
acknowledgement is then announced through the outbox, which replies in the alert's thread.
This module imports no Airflow: it runs under the Airflow plugin and under ``ethics-audit serve``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ethics_audit.errors import AuditError
from ethics_audit.notify import slack_buttons

if TYPE_CHECKING:
    from ethics_audit.store import Store

log = logging.getLogger(__name__)

MAX_AGE = 5 * 60  # seconds; Slack's own recommendation against replays
MUTE_FOR = timedelta(days=7)
USERS_ENV = "ETHICS_AUDIT_SLACK_USERS"
SECRET_ENV = "SLACK_SIGNING_SECRET"
SECRET_HELP = f"{SECRET_ENV} (or the signing_secret extra of the Airflow connection slack_api_default)"


class SlackConfigError(AuditError):
    """The endpoint is not set up (no signing secret, an unreadable user map)."""


@dataclass(frozen=True)
class SlackUser:
    """A Slack user who may press the buttons: the name recorded as the actor, and their audits."""

    id: str
    name: str
    audits: tuple[str, ...] = ("*",)

    def may_act_on(self, audit_id: str) -> bool:
        return "*" in self.audits or audit_id in self.audits


@dataclass
class Outcome:
    """The HTTP answer to Slack and what to do after it (deliver the outbox, reply in a thread)."""

    status: int
    body: dict[str, Any]
    deliver_audit: str | None = None
    reply: dict[str, str] | None = None  # {"channel", "thread_ts", "text"}
    applied: list[int] = field(default_factory=list)


def refuse(status: int, error: str, **extra: Any) -> Outcome:
    return Outcome(status, {"ok": False, "error": error, **extra})


# --------------------------------------------------------------------------- configuration


def signing_secret() -> str | None:
    """``SLACK_SIGNING_SECRET``, or the ``signing_secret`` extra of ``slack_api_default``."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    from ethics_audit.notify.base import connection

    conn = connection("slack_api_default")
    extra = (conn.extra or {}) if conn is not None else {}
    return extra.get("signing_secret") or None


def load_users(raw: str | None = None) -> dict[str, SlackUser]:
    """``ETHICS_AUDIT_SLACK_USERS``: inline JSON, or the path of a JSON or YAML file.

    ``{"U012ABCDEF": {"name": "Priya Raman", "audits": ["ad-delivery"]}, "U034GHIJKL": "Tom Okafor"}``;
    a plain name may act on every audit. Unset: nobody may.
    """
    raw = os.environ.get(USERS_ENV, "") if raw is None else raw
    if not raw.strip():
        return {}
    text, where = raw, USERS_ENV
    if not raw.lstrip().startswith("{"):
        path = Path(raw).expanduser()
        if not path.is_file():
            raise SlackConfigError(
                f"{USERS_ENV}: {path} is not a file; give inline JSON or the path of a JSON/YAML file"
            )
        text, where = path.read_text(), str(path)
    try:
        import yaml

        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise SlackConfigError(f"{where}: not valid JSON or YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise SlackConfigError(f"{where}: expected a mapping of Slack user ids to names")
    users = {}
    for user_id, entry in data.items():
        if isinstance(entry, str):
            users[str(user_id)] = SlackUser(str(user_id), entry)
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise SlackConfigError(f"{where}: {user_id}: give a name, or {{name: ..., audits: [...]}}")
        audits = entry.get("audits", ["*"])
        if not isinstance(audits, list) or not all(isinstance(a, str) for a in audits):
            raise SlackConfigError(f"{where}: {user_id}.audits: give a list of audit ids (or ['*'])")
        users[str(user_id)] = SlackUser(str(user_id), entry["name"], tuple(audits))
    return users


# --------------------------------------------------------------------------- the signature


def verify(
    body: bytes, timestamp: str | None, signature: str | None, secret: str, *, now: float | None = None
) -> str | None:
    """None if Slack signed ``body``; else why not (the request is then refused with 401)."""
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "X-Slack-Request-Timestamp is not a number"
    if abs((time.time() if now is None else now) - sent) > MAX_AGE:
        return "the request timestamp is more than 5 minutes away (a replay, or the clock is off)"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "bad signature"
    return None


# --------------------------------------------------------------------------- handling a press


def _payload(body: bytes) -> dict[str, Any] | None:
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        data = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        return None
    return data if isinstance(data, dict) else None


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _targets(action_id: str, incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The incidents the press still changes: a second press finds none."""
    if action_id == slack_buttons.ACKNOWLEDGE:
        return [i for i in incidents if i["status"] == "open"]
    return [i for i in incidents if i["status"] in ("open", "acknowledged")]


def handle(
    store: Store,
    body: bytes,
    headers: dict[str, str],
    *,
    secret: Callable[[], str | None] = signing_secret,
    users: Callable[[], dict[str, SlackUser]] = load_users,
    now: datetime | None = None,
) -> Outcome:
    """One request to the interactivity URL. ``headers`` keys are lower case."""
    from ethics_audit.lifecycle.episodes import IncidentError
    from ethics_audit.recording import apply_action

    key = secret()
    if not key:
        return refuse(503, f"no Slack signing secret; set {SECRET_HELP}")
    why = verify(body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature"), key)
    if why:
        return refuse(401, why)
    payload = _payload(body)
    if payload is None or payload.get("type") != "block_actions" or not payload.get("actions"):
        return refuse(400, "expected a block_actions payload (form field 'payload')")
    action = payload["actions"][0]
    action_id = action.get("action_id")
    if action_id == slack_buttons.OPEN_REPORT:
        return Outcome(200, {"ok": True, "applied": False})  # a link: Slack opens it, nothing to change
    if action_id not in (slack_buttons.ACKNOWLEDGE, slack_buttons.MUTE_7D):
        return refuse(400, f"unknown action {action_id!r}")
    alert_id = slack_buttons.alert_of(str(action.get("value", "")))
    if alert_id is None:
        return refuse(400, "the button's value names no alert")
    alert = store.alert_with_incidents(alert_id)
    if alert is None:
        return refuse(404, f"alert {alert_id} does not exist")
    slack_user = payload.get("user") or {}
    thread = _thread(alert, payload)
    try:
        user = users().get(str(slack_user.get("id")))
    except SlackConfigError as exc:
        return refuse(503, str(exc))
    if user is None or not user.may_act_on(alert["audit_id"]):
        outcome = refuse(403, f"Slack user {slack_user.get('id')} may not act on {alert['audit_id']} (see {USERS_ENV})")
        if thread:
            verb = "acknowledge" if action_id == slack_buttons.ACKNOWLEDGE else "mute"
            outcome.reply = {
                **thread,
                "text": f"<@{slack_user.get('id')}> may not {verb} alerts of {alert['audit_id']}: "
                f"ask an owner to add you to {USERS_ENV}",
            }
        return outcome

    press = _key(
        "press",
        (payload.get("team") or {}).get("id"),
        slack_user.get("id"),
        action_id,
        action.get("action_ts"),
        (payload.get("container") or {}).get("message_ts"),
    )
    if not store.claim_action(press, source="slack", action=action_id, alert_id=alert_id, actor=user.name):
        return refuse(409, "this button press was handled before")
    targets = _targets(action_id, alert["incidents"])
    state = [(i["id"], i["status"], i["acknowledged_by"], i["muted_until"]) for i in targets]
    # a double click: two presses that find the same incidents in the same state; one applies
    guard = _key("state", alert_id, action_id, state)
    if not targets or not store.claim_action(
        guard, source="slack", action=action_id, alert_id=alert_id, actor=user.name, outcome="state"
    ):
        store.settle_action(press, "refused", "nothing left to change")
        return Outcome(200, {"ok": True, "applied": False, "reason": "nothing left to change"})
    ids = [i["id"] for i in targets]
    note = "from Slack"
    try:
        if action_id == slack_buttons.ACKNOWLEDGE:
            apply_action(store, "acknowledge", ids, actor=user.name, note=note)
        else:
            until = (now or datetime.now(timezone.utc)) + MUTE_FOR
            apply_action(store, "mute", ids, until=until, actor=user.name, note=note)
    except IncidentError as exc:  # resolved in between
        store.settle_action(press, "refused", str(exc))
        return refuse(409, str(exc))
    store.settle_action(press, "applied", ", ".join(f"#{i}" for i in ids))
    log.info("slack: %s by %s on alert %s: incidents %s", action_id, user.name, alert_id, ids)
    return Outcome(
        200,
        {"ok": True, "applied": True, "action": action_id, "incidents": ids, "actor": user.name},
        deliver_audit=alert["audit_id"],
        applied=ids,
    )


def _thread(alert: dict[str, Any], payload: dict[str, Any]) -> dict[str, str] | None:
    """The alert's Slack thread (as delivered), else the message the button was on."""
    ref = (alert.get("external") or {}).get("slack") or {}
    if ref.get("channel") and ref.get("ts"):
        return {"channel": ref["channel"], "thread_ts": ref["ts"]}
    container = payload.get("container") or {}
    if container.get("channel_id") and container.get("message_ts"):
        return {"channel": container["channel_id"], "thread_ts": container["message_ts"]}
    return None


def follow_up(store: Store, outcome: Outcome) -> None:
    """After the answer went back to Slack: send the announcement (a reply in the alert's
    thread, through the outbox), or post the refusal in the thread. Never raises."""
    try:
        if outcome.deliver_audit:
            from ethics_audit.notify import deliver_pending

            deliver_pending(store, audit_id=outcome.deliver_audit)
        if outcome.reply:
            from ethics_audit.notify.base import DeliverySettings
            from ethics_audit.notify.slack import SlackChannel

            channel = SlackChannel(settings=DeliverySettings.from_env())
            channel._call("chat.postMessage", **outcome.reply)
    except Exception as exc:  # noqa: BLE001 - the action is applied; a failed reply must not undo it
        log.warning("slack: the reply after a button press failed: %s", type(exc).__name__)
